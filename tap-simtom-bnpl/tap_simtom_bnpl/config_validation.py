"""Config validation by the JSON schema, with the Singer SDK's validator, on one line.

The validator is the one the SDK validates a plugin's config with (it fills in the
schema's defaults as it goes), given a format checker, which the SDK leaves out, so a
`format` in the schema is enforced too. The first error becomes one line that names the
setting and says what the schema expects there, e.g.
`window_days: expected an integer from 1 to 365, got 400`.
"""

from __future__ import annotations

import copy
import decimal
import typing as t
from pathlib import PurePosixPath
from urllib.parse import urlparse

from singer_sdk.typing import DEFAULT_JSONSCHEMA_VALIDATOR, extend_validator_with_defaults

if t.TYPE_CHECKING:
    from jsonschema import FormatChecker, ValidationError

ConfigValidator = extend_validator_with_defaults(DEFAULT_JSONSCHEMA_VALIDATOR)


class SettingsError(ValueError):
    """An invalid setting; the message is one line naming the setting."""


def _is_http_url(text: str) -> bool:
    parsed = urlparse(text)
    return parsed.scheme in {"http", "https"} and bool(parsed.netloc) and text == text.strip()


def _is_local_directory(text: str) -> bool:
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return parsed.netloc in {"", "localhost"} and parsed.path.startswith("/")
    return parsed.scheme == "" and text.startswith("/")


def _is_relative_prefix(text: str) -> bool:
    return not text.startswith("/") and ".." not in PurePosixPath(text).parts


# Each format the schema uses: what it is called in messages, and its check when the
# validator's standard checker has none (`date` it has: 2024-11-31 is refused).
FORMATS: dict[str, tuple[str, t.Callable[[str], bool] | None]] = {
    "date": ("a date YYYY-MM-DD", None),
    "http-url": ("an http(s) URL", _is_http_url),
    "local-directory": (
        "a file:// URL or an absolute path of a local directory",
        _is_local_directory,
    ),
    "relative-prefix": ("a relative file name prefix", _is_relative_prefix),
}


def _format_checker() -> FormatChecker:
    checker = copy.deepcopy(DEFAULT_JSONSCHEMA_VALIDATOR.FORMAT_CHECKER)
    for name, (_, check) in FORMATS.items():
        if check is not None:
            checker.checks(name)(check)
    return checker


FORMAT_CHECKER = _format_checker()


def _bounds(schema: t.Mapping[str, t.Any]) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if "exclusiveMinimum" in schema:
        return f" > {schema['exclusiveMinimum']}"
    if low is not None:
        return f" >= {low}"
    return f" <= {high}" if high is not None else ""


def expected(schema: t.Mapping[str, t.Any]) -> str:
    """What a value of `schema` must be, in words: 'an integer from 1 to 365'."""
    if "enum" in schema:
        return " or ".join(repr(value) for value in schema["enum"] if value is not None)
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    words = []
    if "integer" in types or "number" in types:
        kind = "an integer" if "integer" in types else "a number"
        # A number that may also come as text (e.g. "0.5"): the text is of the same number.
        words.append(kind + _bounds(schema) + (" (or its text)" if "string" in types else ""))
    elif "string" in types:
        if "format" in schema:
            words.append(FORMATS.get(schema["format"], (f"a {schema['format']} string",))[0])
        elif "pattern" in schema:
            words.append(f"a string matching {schema['pattern']}")
        else:
            words.append("a string")
    for kind, word in (("boolean", "true or false"), ("object", "an object"), ("array", "a list")):
        if kind in types:
            words.append(word)
    if "null" in types:
        words.append("null")
    return " or ".join(words) or "a value matching the schema"


def _shown(value: t.Any) -> str:
    if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        return str(value)
    return repr(value)


def _property_schema(root: t.Mapping[str, t.Any], path: t.Sequence[t.Any]) -> t.Mapping | None:
    schema: t.Mapping[str, t.Any] | None = root
    for part in path:
        schema = (schema or {}).get("properties", {}).get(part)
    return schema


def describe(error: ValidationError, root: t.Mapping[str, t.Any]) -> str:
    """One line for a validation error: the setting's dotted name, what was expected."""
    path = list(error.absolute_path)
    name = ".".join(str(part) for part in path)
    if error.validator == "required":
        missing = next(key for key in error.validator_value if key not in error.instance)
        where = f"{name}.{missing}" if name else missing
        wanted = _property_schema(root, [*path, missing])
        return f"{where}: required, expected {expected(wanted or {})}"
    if error.validator == "additionalProperties":
        known = (_property_schema(root, path) or {}).get("properties", {})
        unknown = sorted(str(key) for key in error.instance if key not in known)
        return (
            f"{name or 'config'}: unexpected field {', '.join(map(repr, unknown))}; expected "
            f"only {', '.join(known)}"
        )
    schema = _property_schema(root, path)
    if schema is None or not name:  # somewhere the tap's schema does not describe
        return f"{name or 'config'}: {' '.join(error.message.split())}"
    return f"{name}: expected {expected(schema)}, got {_shown(error.instance)}"


def validate_config(schema: t.Mapping[str, t.Any], config: dict[str, t.Any]) -> None:
    """Fill in `config`'s defaults and check it against `schema`; raise on the first error."""
    validator = ConfigValidator(schema, format_checker=FORMAT_CHECKER)
    error = next(iter(validator.iter_errors(config)), None)
    if error is not None:
        raise SettingsError(describe(error, schema))
