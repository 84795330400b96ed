"""Settings of reading and of the rules every mined pair passes: Beam-free, so the CLI, recipes
and workers build them alike."""

from __future__ import annotations

from dataclasses import dataclass

from ..schemas.settings import language_codes, positive_int, setting


@dataclass(kw_only=True)
class ReadSettings:
    """Limits on what one record may hold, whatever the source: memory stays bounded."""

    max_record_bytes: int = setting(
        32 << 20, "a line or document longer than this is a `record_too_large` dead letter",
        type=positive_int)
    column: list[str] = setting(
        [], "FIELD=COLUMN: take the record field FIELD from COLUMN, for exports (Parquet or "
            "JSON lines, as on the Hub) that name fields otherwise", many=True,
        metavar="FIELD=COLUMN")

    def column_map(self) -> dict[str, str]:
        """FIELD -> COLUMN; a malformed entry is a clear error before any work."""
        out = {}
        for item in self.column:
            field_name, eq, column = str(item).partition("=")
            if not eq or not field_name.strip() or not column.strip():
                raise ValueError(f"--column {item!r}: expected FIELD=COLUMN, such as title=post_title")
            out[field_name.strip()] = column.strip()
        return out


@dataclass(kw_only=True)
class RuleSettings:
    """The rules every mined pair passes, whatever the source (language, personal data)."""

    languages: tuple[str, ...] = setting(
        (), "keep only pairs in these languages (ISO 639-1 codes, comma-separated: en,de); "
            "text pairs are identified offline with py3langid, code pairs by their docstring",
        type=language_codes, metavar="CODES")
    pii: str = setting(
        "redact", "personal data (e-mail addresses, phone numbers, public IP addresses, card "
                  "numbers, keys and tokens) in queries and documents: replace it with "
                  "<EMAIL>, <PHONE>, ... (redact), drop the pair (drop), or keep it (keep)",
        choices=("redact", "drop", "keep"))
