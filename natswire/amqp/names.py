"""Names and subjects: how AMQP exchanges, queues and routing keys become NATS subjects,
and JetStream stream and consumer names.

Pure functions, no I/O.

- A *word* of a routing key (the text between dots) becomes one subject token. Words
  made of ``A-Z a-z 0-9 _ - :`` are kept as they are (UUIDs, hex client ids, domain
  labels); any other word is percent-encoded byte by byte (``%2A`` for ``*``, ``%25``
  for ``%``), and the empty word is ``%``. The mapping is injective and its tokens never
  hold a wildcard, so a routing key can never act as a pattern.
- A *name* (exchange, queue) becomes one token by the same rule applied to the whole
  name, dots included: ``user-notifications.u1.c1`` -> ``user-notifications%2Eu1%2Ec1``.
  Stream and consumer names use the same encoding (no dots, no wildcards).
- Subjects, under the namespace prefix ``<ns>.`` (none when the namespace is empty):
  exchange ``X`` with routing key ``k1.k2`` -> ``<ns>.amqp.x.<name(X)>.k1.k2``; the
  default exchange to queue ``Q`` -> ``<ns>.amqp.q.<name(Q)>``. A :class:`SubjectMap`
  gives chosen exchanges and queues the migration plan's subjects instead
  (``user-notifications`` -> ``<ns>.user.notifications.<key>``, queue
  ``backend-notifications.<domain>`` -> ``<ns>.backend.notifications.<domain>``, ...);
  it is checked so that no two spaces overlap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_PLAIN = re.compile(r"[A-Za-z0-9_\-:]+\Z")
_HEX = "0123456789ABCDEF"

#: The default exchange.
DEFAULT_EXCHANGE = ""


_PUBLISH_SUBJECT_CACHE = 4096


def encode_word(word: str) -> str:
    """One routing-key word (or a whole name) as one subject token (see module docs)."""
    if _PLAIN.match(word):
        return word
    if not word:
        return "%"
    out = []
    for ch in word:
        if _PLAIN.match(ch):
            out.append(ch)
        else:
            for byte in ch.encode():
                out.append(f"%{_HEX[byte >> 4]}{_HEX[byte & 15]}")
    return "".join(out)


def decode_word(token: str) -> str:
    """The inverse of :func:`encode_word`."""
    if "%" not in token:
        return token
    if token == "%":
        return ""
    data = bytearray()
    i = 0
    while i < len(token):
        ch = token[i]
        if ch == "%":
            data.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            data.extend(ch.encode())
            i += 1
    return data.decode()


def encode_key(routing_key: str) -> str:
    """A routing key as subject tokens: each word encoded, joined by dots."""
    if _PLAIN.match(routing_key):
        return routing_key
    return ".".join(encode_word(word) for word in routing_key.split("."))


def encode_name(name: str) -> str:
    """A name (exchange, queue, namespace) as one token, also usable as a stream or
    consumer name (no dots, wildcards, spaces or slashes)."""
    return encode_word(name)


# ------------------------------------------------------------------- topic patterns


def split_pattern(pattern: str) -> list[str]:
    """The words of a topic binding key, runs of ``#`` collapsed into one."""
    words: list[str] = []
    for word in pattern.split("."):
        if word == "#" and words and words[-1] == "#":
            continue
        words.append(word)
    return words


def topic_matches(pattern: str | Sequence[str], routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` zero or more words."""
    words = split_pattern(pattern) if isinstance(pattern, str) else list(pattern)
    return _match(words, 0, routing_key.split("."), 0)


def _match(pat: list[str], i: int, key: list[str], j: int) -> bool:
    while i < len(pat):
        word = pat[i]
        if word == "#":
            if i == len(pat) - 1:
                return True
            return any(_match(pat, i + 1, key, k) for k in range(j, len(key) + 1))
        if j >= len(key):
            return False
        if word != "*" and word != key[j]:
            return False
        i += 1
        j += 1
    return j == len(key)


def topic_filters(prefix: str, pattern: str) -> tuple[list[str], bool]:
    """NATS filter subjects covering a topic binding key under ``prefix``, and whether
    they are exact (else the adapter must check each message with :func:`topic_matches`).

    ``*`` -> ``*``; a trailing ``#`` -> the prefix itself and ``.>`` (``#`` may match zero
    words); a ``#`` elsewhere has no NATS equivalent: the filter is ``>`` from the first
    ``#`` on, and the pattern is checked by the adapter.
    """
    words = split_pattern(pattern)
    tokens: list[str] = []
    for index, word in enumerate(words):
        if word == "#":
            head = ".".join([prefix, *tokens])
            filters = [f"{head}.>"]
            if tokens:
                filters.insert(0, head)
            exact = index == len(words) - 1
            return filters, exact
        tokens.append("*" if word == "*" else encode_word(word))
    return [".".join([prefix, *tokens])], True


def subjects_overlap(a: str, b: str) -> bool:
    """Whether two subjects (wildcards allowed) can match a common subject."""
    ta, tb = a.split("."), b.split(".")
    for i in range(max(len(ta), len(tb))):
        x = ta[i] if i < len(ta) else None
        y = tb[i] if i < len(tb) else None
        if x == ">" or y == ">":
            return x is not None and y is not None
        if x is None or y is None:
            return False
        if x != y and x != "*" and y != "*":
            return False
    return True


def subject_covers(wide: str, narrow: str) -> bool:
    """Whether every subject ``narrow`` (wildcards allowed) matches is matched by ``wide``."""
    tw, tn = wide.split("."), narrow.split(".")
    for i, w in enumerate(tw):
        if w == ">":
            return len(tn) > i
        if i >= len(tn):
            return False
        n = tn[i]
        if n == ">":
            return False
        if w != "*" and w != n:
            return False
    return len(tn) == len(tw)


def minimal_filters(subjects: Sequence[str]) -> list[str]:
    """``subjects`` without duplicates and without those another one covers (JetStream
    refuses a consumer whose filters contain one another)."""
    out: list[str] = []
    for subject in subjects:
        if subject in out or any(subject_covers(kept, subject) for kept in out):
            continue
        out = [kept for kept in out if not subject_covers(subject, kept)]
        out.append(subject)
    return out


# ------------------------------------------------------------------- subject map


#: The migration plan's subjects for Wire's objects (``seeds/000``, notes §2.3).
WIRE_EXCHANGE_SUBJECTS: dict[str, str] = {
    "user-notifications": "user.notifications",
    "dead-user-notifications": "dead.user.notifications",
}
WIRE_QUEUE_SUBJECTS: dict[str, str] = {
    "background-jobs": "background.jobs",
    "cells_events": "cells.events",
}
#: Queue-name prefixes whose remainder becomes subject tokens (domains keep their dots).
WIRE_QUEUE_PREFIX_SUBJECTS: dict[str, str] = {
    "backend-notifications.": "backend.notifications",
}


def _check_subject(value: str, what: str) -> None:
    tokens = value.split(".")
    if not value or any(not t or not _PLAIN.match(t) for t in tokens):
        raise ValueError(f"{what} {value!r} must be dot-separated words of A-Z a-z 0-9 _ - :")


@dataclass(frozen=True)
class SubjectMap:
    """Where each exchange's and queue's messages live, under the namespace.

    ``exchanges`` maps exchange names to subject prefixes; ``queues`` maps queue names
    (reached through the default exchange) to subjects; ``queue_prefixes`` maps a
    queue-name prefix to a subject prefix, the rest of the name becoming more tokens.
    Everything else uses the generic ``amqp.x.*`` and ``amqp.q.*`` spaces.
    """

    namespace: str = ""
    exchanges: Mapping[str, str] = field(default_factory=dict)
    queues: Mapping[str, str] = field(default_factory=dict)
    queue_prefixes: Mapping[str, str] = field(default_factory=dict)
    # Publishers repeat their exchange and routing key: remember the subjects.
    _publish_subjects: dict[tuple[str, str], str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.namespace:
            _check_subject(self.namespace, "namespace")
        for what, table in (
            ("exchange subject", self.exchanges),
            ("queue subject", self.queues),
            ("queue prefix subject", self.queue_prefixes),
        ):
            for value in table.values():
                _check_subject(value, what)
        spaces = self.stream_subjects()
        for i, a in enumerate(spaces):
            for b in spaces[i + 1 :]:
                if subjects_overlap(a, b):
                    raise ValueError(f"subject spaces {a!r} and {b!r} overlap")

    @property
    def prefix(self) -> str:
        """The namespace's subject prefix (``<ns>.`` or empty)."""
        return f"{self.namespace}." if self.namespace else ""

    @classmethod
    def wire(cls, namespace: str = "") -> SubjectMap:
        """The migration plan's subjects for Wire's exchanges and queues."""
        return cls(
            namespace,
            dict(WIRE_EXCHANGE_SUBJECTS),
            dict(WIRE_QUEUE_SUBJECTS),
            dict(WIRE_QUEUE_PREFIX_SUBJECTS),
        )

    @classmethod
    def generic(cls, namespace: str = "") -> SubjectMap:
        """Only the generic ``amqp.x`` / ``amqp.q`` spaces."""
        return cls(namespace)

    def stream_subjects(self) -> list[str]:
        """The subjects the namespace's stream captures."""
        p = self.prefix
        subjects = [f"{p}amqp.x.>", f"{p}amqp.q.>"]
        subjects += [f"{p}{v}.>" for v in self.exchanges.values()]
        subjects += [f"{p}{v}" for v in self.queues.values()]
        subjects += [f"{p}{v}.>" for v in self.queue_prefixes.values()]
        return subjects

    def meta_subject(self, *tokens: str) -> str:
        """A subject of the metadata stream, from ``tokens``."""
        return ".".join([f"{self.prefix}amqp.meta", *tokens])

    def exchange_prefix(self, exchange: str) -> str:
        """The subject prefix of an exchange's messages (routing-key tokens follow)."""
        mapped = self.exchanges.get(exchange)
        if mapped is not None:
            return self.prefix + mapped
        return f"{self.prefix}amqp.x.{encode_name(exchange)}"

    def queue_subject(self, queue: str) -> str:
        """The subject the default exchange uses for ``queue``."""
        mapped = self.queues.get(queue)
        if mapped is not None:
            return self.prefix + mapped
        for name_prefix, subject_prefix in self.queue_prefixes.items():
            if queue.startswith(name_prefix):
                rest = queue[len(name_prefix) :]
                words = rest.split(".")
                if rest and all(_PLAIN.match(w) for w in words):
                    return f"{self.prefix}{subject_prefix}.{rest}"
        return f"{self.prefix}amqp.q.{encode_name(queue)}"

    def publish_subject(self, exchange: str, routing_key: str) -> str:
        """The subject a message published to ``exchange`` with ``routing_key`` gets."""
        key = (exchange, routing_key)
        subject = self._publish_subjects.get(key)
        if subject is None:
            if exchange == DEFAULT_EXCHANGE:
                subject = self.queue_subject(routing_key)
            else:
                subject = f"{self.exchange_prefix(exchange)}.{encode_key(routing_key)}"
            if len(self._publish_subjects) >= _PUBLISH_SUBJECT_CACHE:
                self._publish_subjects.clear()
            self._publish_subjects[key] = subject
        return subject

    def binding_filters(
        self, exchange: str, exchange_type: str, routing_key: str
    ) -> tuple[list[str], bool]:
        """The NATS filters for a binding, and whether they are exact."""
        prefix = self.exchange_prefix(exchange)
        if exchange_type == "fanout":
            return [f"{prefix}.>"], True
        if exchange_type == "topic":
            return topic_filters(prefix, routing_key)
        return [f"{prefix}.{encode_key(routing_key)}"], True


def stream_name(namespace: str) -> str:
    """The JetStream stream holding a namespace's messages."""
    return f"AMQP-{encode_name(namespace)}" if namespace else "AMQP"


def meta_stream_name(namespace: str) -> str:
    """The JetStream stream holding a namespace's exchange declarations."""
    return f"AMQP-META-{encode_name(namespace)}" if namespace else "AMQP-META"


def acklog_stream_name(namespace: str) -> str:
    """The JetStream stream holding a namespace's ack log (:mod:`natswire.amqp.acklog`)."""
    return f"AMQP-ACKS-{encode_name(namespace)}" if namespace else "AMQP-ACKS"


def consumer_name(queue: str) -> str:
    """The durable JetStream consumer that is queue ``queue``."""
    return f"Q-{encode_name(queue)}"


def queue_of_consumer(consumer: str) -> str | None:
    """The queue name of an adapter consumer, or None for another consumer."""
    if not consumer.startswith("Q-"):
        return None
    return decode_word(consumer[2:])


# ------------------------------------------------------------ the plan's subjects


def _ns(namespace: str) -> str:
    return f"{namespace}." if namespace else ""


def user_notifications_subject(
    user_id: str, client_id: str | None = None, namespace: str = ""
) -> str:
    """``<ns>.user.notifications.{userId}[.{clientId}]``: what exchange
    ``user-notifications`` publishes with routing key ``<uid>`` or ``<uid>.<cid>``."""
    key = user_id if client_id is None else f"{user_id}.{client_id}"
    return f"{_ns(namespace)}user.notifications.{encode_key(key)}"


#: Wire's binding key suffix for temporary clients (``<uid>.temporary``).
WIRE_TEMPORARY_SUFFIX = "temporary"
#: The migration plan's suffix for temporary clients (``user.notifications.{uid}.temp``).
PLAN_TEMPORARY_SUFFIX = "temp"


def temporary_routing_key(user_id: str, suffix: str = WIRE_TEMPORARY_SUFFIX) -> str:
    """Wire's binding key for a user's temporary clients: ``<uid>.temporary``."""
    return f"{user_id}.{suffix}"


def user_temp_subject(
    user_id: str, namespace: str = "", suffix: str = PLAN_TEMPORARY_SUFFIX
) -> str:
    """``<ns>.user.notifications.{userId}.temp`` (the plan's name); with
    ``suffix="temporary"`` the subject Wire's ``<uid>.temporary`` key uses."""
    return f"{_ns(namespace)}user.notifications.{encode_word(user_id)}.{suffix}"


def backend_notifications_queue(domain: str) -> str:
    """Wire's per-domain queue name ``backend-notifications.<domain>``."""
    return f"backend-notifications.{domain}"


def backend_notifications_subject(domain: str, namespace: str = "") -> str:
    """``<ns>.backend.notifications.{domain}``: the domain's dots stay token separators
    (subscribe with ``<ns>.backend.notifications.>``, rejoin with
    :func:`domain_of_subject`)."""
    return f"{_ns(namespace)}backend.notifications.{encode_key(domain)}"


def domain_of_subject(subject: str, namespace: str = "") -> str:
    """The domain of a ``backend.notifications.<domain>`` subject (tokens rejoined)."""
    prefix = f"{_ns(namespace)}backend.notifications."
    if not subject.startswith(prefix):
        raise ValueError(f"{subject!r} is not under {prefix!r}")
    return ".".join(decode_word(t) for t in subject[len(prefix) :].split("."))


def cells_events_subject(namespace: str = "") -> str:
    """``<ns>.cells.events``."""
    return f"{_ns(namespace)}cells.events"


def client_queue_name(user_id: str, client_id: str) -> str:
    """Wire's per-client queue ``user-notifications.<uid>.<cid>``."""
    return f"user-notifications.{user_id}.{client_id}"


# ------------------------------------------------------------- connection names

#: Separates the namespace from the rest of a client connection name.
CLIENT_NAME_SEPARATOR = "/"


def client_name(namespace: str, name: str) -> str:
    """The connection name a client of ``namespace`` sends (``<ns>/<name>``), so the
    admin client can list a namespace's connections as RabbitMQ lists a vhost's."""
    return f"{namespace}{CLIENT_NAME_SEPARATOR}{name}" if namespace else name


def namespace_of_client_name(name: str) -> str:
    """The namespace part of a connection name made by :func:`client_name` (``""``
    when there is none)."""
    namespace, sep, _ = name.partition(CLIENT_NAME_SEPARATOR)
    return namespace if sep else ""
