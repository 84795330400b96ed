"""The natural language of a text, as an ISO 639-1 code.

py3langid (a numpy port of langid.py, 97 languages) ships its model inside its wheel, so nothing
is downloaded at run time; fastText's lid.176 is fetched on first use and fails offline.
"""

from __future__ import annotations

from functools import lru_cache

# identification is settled long before this; the cost grows with the length
MAX_CHARS = 1500


@lru_cache(maxsize=1)
def _identifier():
    import numpy as np
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    # `lang` holds ISO 639-1 codes: the model's few three-letter labels (wuu, yue, arz, ...)
    # are left out, so their texts go to the closest two-letter language (zh, ar, ...)
    identifier.set_languages([code for code in identifier.labels if len(code) == 2])
    # the restricted table comes out column-major, so each text's feature rows were gathered
    # across 100k-row strides; row-major holds the same values (same scores) at a third of the cost
    identifier.nb_ptc = np.ascontiguousarray(identifier.nb_ptc)
    return identifier


def identify_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of the text's language."""
    code, probability = _identifier().classify(text[:MAX_CHARS])
    return code, float(probability)
