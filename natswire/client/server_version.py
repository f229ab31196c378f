"""The server's version as nats-py offers it: text that also knows its parts."""

from __future__ import annotations

import re

_SEMVER = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)


class ServerVersion(str):
    """``"2.11.3"`` that also answers ``.major``, ``.minor``, ``.patch``,
    ``.prerelease``, ``.build`` and ``.dev`` (nats-py's ``ServerVersion``), and
    compares by version with another version or a version string. It prints, and
    equals, the version text."""

    __slots__ = ()

    def _parts(self) -> re.Match[str]:
        match = _SEMVER.match(str(self))
        if match is None:
            raise ValueError(f"{str(self)!r} is not a valid semantic version")
        return match

    @property
    def major(self) -> int:
        return int(self._parts()["major"])

    @property
    def minor(self) -> int:
        return int(self._parts()["minor"])

    @property
    def patch(self) -> int:
        return int(self._parts()["patch"])

    @property
    def prerelease(self) -> str:
        return self._parts()["prerelease"] or ""

    @property
    def build(self) -> str:
        return self._parts()["build"] or ""

    @property
    def dev(self) -> str:
        """The prerelease and build parts (``"beta.1+abc"``), ``""`` for a release."""
        return "+".join(part for part in (self.prerelease, self.build) if part)

    def sort_key(self) -> tuple[int, int, int, int, str]:
        """What versions are ordered by."""
        # A release sorts after its prereleases.
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, self.prerelease)

    def _compare(self, other: object) -> int | None:
        if not isinstance(other, str):
            return None
        mine, theirs = self.sort_key(), ServerVersion(other).sort_key()
        return (mine > theirs) - (mine < theirs)

    def __lt__(self, other: object) -> bool:
        order = self._compare(other)
        return NotImplemented if order is None else order < 0

    def __le__(self, other: object) -> bool:
        order = self._compare(other)
        return NotImplemented if order is None else order <= 0

    def __gt__(self, other: object) -> bool:
        order = self._compare(other)
        return NotImplemented if order is None else order > 0

    def __ge__(self, other: object) -> bool:
        order = self._compare(other)
        return NotImplemented if order is None else order >= 0

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other)

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"<nats server v{self!s}>"
