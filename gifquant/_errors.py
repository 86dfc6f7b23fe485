"""The exception types the CLI turns into a one-line message and an exit code.

The library's messages name settings by their Python keywords (``max_size``), never by the
command line's flags: a message that names settings is a template (``"{max_size} {value} is
outside ..."``), and the command line renders it with its flags (``--max-size``).
"""

from __future__ import annotations

from collections.abc import Mapping


class GifquantError(ValueError):
    """A user-facing failure: bad option, unreadable input, unwritable output. A ValueError, so
    that a program calling the library catches it as one.

    ``exit_code`` is 2 for usage and input errors (ffmpeg's and argparse's habit), 1 otherwise.
    """

    _template: str | None = None
    _values: dict = {}

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    @classmethod
    def naming(cls, template: str, exit_code: int = 2, **values) -> GifquantError:
        """An error whose message names settings: ``template`` writes each as ``{keyword}``
        (``{max_size}``), and ``values`` fill its other fields. ``str()`` names the settings
        by their keywords; ``for_command_line`` by the command line's flags."""
        exc = cls(template.format_map(_Fields(values, {})), exit_code)
        exc._template, exc._values = template, values
        return exc

    def for_command_line(self, flags: Mapping[str, str]) -> str:
        """The message with each setting named by ``flags`` (keyword -> flag)."""
        if self._template is None:
            return str(self)
        return self._template.format_map(_Fields(self._values, flags))

    def __reduce__(self):  # across processes (batch workers): the template, not the text
        return (_rebuild, (type(self), str(self), self.exit_code, self._template, self._values))


def SettingError(template: str, exit_code: int = 2, **values) -> GifquantError:  # noqa: N802
    """A GifquantError whose message names settings (see ``GifquantError.naming``)."""
    return GifquantError.naming(template, exit_code, **values)


def _rebuild(cls, message: str, exit_code: int, template: str | None, values: dict):
    exc = cls(message, exit_code)
    exc._template, exc._values = template, values
    return exc


class Setting(str):
    """A value that is a setting's keyword, named as the rest (``{option}`` with
    ``option=Setting("transfer")``: the keyword in the library, the flag on the command line)."""


class _Fields(dict):
    """A template's fields: the values given, else a setting's name (its flag or keyword). An
    error among the values names its settings the same way."""

    def __init__(self, values: Mapping, names: Mapping[str, str]) -> None:
        super().__init__(
            {
                k: names.get(v, str(v))
                if isinstance(v, Setting)
                else v.for_command_line(names)
                if isinstance(v, GifquantError)
                else v
                for k, v in values.items()
            }
        )
        self._names = names

    def __missing__(self, key: str) -> str:
        return self._names.get(key, key)


class InputNotFoundError(GifquantError, FileNotFoundError):
    """The input file does not exist (a FileNotFoundError too)."""
