"""(docstring, code) pairs from source files: Python, Go, JavaScript, Java, Ruby, PHP."""

from .functions import TASK, CodeOptions, extract_code_pairs
from .languages import LANGUAGES, language_for_path, parse_languages

__all__ = ["TASK", "CodeOptions", "extract_code_pairs", "LANGUAGES", "language_for_path",
           "parse_languages"]
