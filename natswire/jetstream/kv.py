"""The Key-Value store (nats-py's ``KeyValue``): a bucket is the stream ``KV_<bucket>``
on ``$KV.<bucket>.>``, a key's revisions are its messages on ``$KV.<bucket>.<key>``,
deletes and purges are markers with a ``KV-Operation`` header, as nats.go stores them,
so a bucket is shared with nats.go, nats-py and the nats CLI.

::

    kv = await js.create_key_value(bucket="config", history=5)
    rev = await kv.put("color", b"blue")
    entry = await kv.get("color")
    await kv.update("color", b"red", last=rev)
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from . import kv_api, kv_watch
from .api import (
    DiscardPolicy,
    Header,
    RawStreamMsg,
    StreamConfig,
    StreamSource,
    SubjectTransform,
)
from .direct import plain_stored, raw_from_direct
from .errors import (
    BadBucketError,
    BucketNotFoundError,
    InvalidBucketNameError,
    InvalidKeyError,
    KeyDeletedError,
    KeyHistoryTooLargeError,
    KeyNotFoundError,
    KeyValueLimitMarkerTTLNotSupportedError,
    KeyWrongLastSequenceError,
    NoKeysError,
    NotFoundError,
    StreamNotFoundError,
    WrongLastSequenceError,
)
from .kv_api import KV_MAX_HISTORY, VALID_BUCKET_RE, KeyValueConfig, is_valid_key
from .kv_watch import KV_DEL, KV_OP, KV_PURGE, operation_of, watch_options

if TYPE_CHECKING:
    from .context import JetStreamContext

KV_STREAM_TEMPLATE = "KV_{bucket}"
KV_PRE_TEMPLATE = "$KV.{bucket}."
#: ``Nats-Rollup: sub`` keeps only the purge marker of a purged key.
MSG_ROLLUP_SUBJECT = "sub"


def check_bucket(bucket: str) -> None:
    if not isinstance(bucket, str) or VALID_BUCKET_RE.fullmatch(bucket) is None:
        raise InvalidBucketNameError(f"invalid bucket name {bucket!r}")


class KeyValue:
    """A Key-Value bucket; get one with ``js.key_value(bucket)`` or
    ``js.create_key_value(bucket=...)``."""

    Entry: TypeAlias = kv_watch.Entry
    BucketStatus: TypeAlias = kv_api.BucketStatus
    KeyWatcher: TypeAlias = kv_watch.KeyWatcher

    def __init__(
        self,
        name: str,
        stream: str,
        pre: str,
        js: JetStreamContext,
        direct: bool,
        put_pre: str | None = None,
    ):
        self._name = name
        self._stream = stream
        self._pre = pre
        # Where writes go: the origin bucket's subjects for a mirror in another domain.
        self._put_pre = put_pre or pre
        self._js = js
        self._nc = js.client
        self._direct = direct
        # The Direct Get subject of a key's last value is this plus the key's subject.
        self._direct_get = f"{js.prefix}.DIRECT.GET.{stream}." if direct else ""

    def __repr__(self) -> str:
        return f"<KeyValue bucket={self._name!r}>"

    @property
    def bucket(self) -> str:
        return self._name

    @property
    def stream(self) -> str:
        """The stream behind the bucket (``KV_<bucket>``)."""
        return self._stream

    def _subject(self, key: str, validate: bool) -> str:
        if validate and not is_valid_key(key):
            raise InvalidKeyError(f"invalid key {key!r}")
        return self._pre + key

    def _put_subject(self, key: str, validate: bool) -> str:
        """Where a write of ``key`` goes (:meth:`_subject` but for an external mirror)."""
        subject = self._subject(key, validate)
        return subject if self._put_pre == self._pre else self._put_pre + key

    async def get(self, key: str, revision: int | None = None, validate_keys: bool = True) -> Entry:
        """The key's last revision (or ``revision``); raises :class:`KeyNotFoundError`
        when there is none or it is a delete or purge marker. Read with Direct Get when
        the bucket allows it."""
        if self._direct_get and not revision:
            # The common read, flat: one request, the answer's header block read once.
            subject = self._subject(key, validate_keys)
            msg = await self._nc.request(self._direct_get + subject, b"", timeout=self._js.timeout)
            stored = plain_stored(msg)
            if stored is not None:
                if stored[0] != subject:
                    raise KeyNotFoundError(message=f"expected {subject!r}, but got {stored[0]!r}")
                return kv_watch.Entry(self._name, key, msg.data, stored[1], None, None, None)
            try:
                raw = raw_from_direct(msg, self._stream)
            except NotFoundError:
                raise KeyNotFoundError() from None
            try:
                return self._entry(key, subject, raw)
            except KeyDeletedError as err:
                raise KeyNotFoundError(err.entry, err.op) from None
        try:
            return await self._get(key, revision, validate_keys)
        except KeyDeletedError as err:
            raise KeyNotFoundError(err.entry, err.op) from None

    async def _get(self, key: str, revision: int | None, validate: bool) -> Entry:
        subject = self._subject(key, validate)
        try:
            if revision:
                msg = await self._js.get_msg(self._stream, seq=revision, direct=self._direct)
            else:
                msg = await self._js.get_msg(self._stream, subject=subject, direct=self._direct)
        except StreamNotFoundError:
            raise BucketNotFoundError(404, 10059, f"no bucket {self._name!r}") from None
        except NotFoundError:
            raise KeyNotFoundError() from None
        return self._entry(key, subject, msg)

    def _entry(self, key: str, subject: str, msg: RawStreamMsg) -> Entry:
        """The key's entry in the stored message ``msg``; raises :class:`KeyDeletedError`
        for a delete or purge marker."""
        if msg.subject != subject:
            raise KeyNotFoundError(message=f"expected {subject!r}, but got {msg.subject!r}")
        op = operation_of(msg.headers) or None
        entry = kv_watch.Entry(self._name, key, msg.data, msg.seq, None, None, op)
        if op in (KV_DEL, KV_PURGE):
            raise KeyDeletedError(entry, op)
        return entry

    async def put(self, key: str, value: bytes, validate_keys: bool = True) -> int:
        """Store ``value`` as the key's new revision; its revision number."""
        ack = await self._js.publish(self._put_subject(key, validate_keys), value)
        return ack.seq

    async def create(
        self,
        key: str,
        value: bytes,
        validate_keys: bool = True,
        msg_ttl: float | None = None,
    ) -> int:
        """Store ``value`` only when the key has no value (never set, deleted or purged);
        raises :class:`KeyWrongLastSequenceError` when it has one. ``msg_ttl``: this
        revision's own time to live in seconds."""
        try:
            return await self._update(key, value, 0, validate_keys, msg_ttl)
        except KeyWrongLastSequenceError:
            try:
                await self._get(key, None, validate_keys)
            except KeyDeletedError as deleted:
                return await self._update(
                    key, value, deleted.entry.revision, validate_keys, msg_ttl
                )
            raise

    async def update(
        self,
        key: str,
        value: bytes,
        last: int | None = None,
        validate_keys: bool = True,
    ) -> int:
        """Store ``value`` only when the key's last revision is ``last``; raises
        :class:`KeyWrongLastSequenceError` otherwise."""
        return await self._update(key, value, last, validate_keys, None)

    async def _update(
        self, key: str, value: bytes, last: int | None, validate: bool, msg_ttl: float | None
    ) -> int:
        subject = self._put_subject(key, validate)
        try:
            ack = await self._js.publish(
                subject, value, expected_last_subject_seq=last or 0, msg_ttl=msg_ttl
            )
        except WrongLastSequenceError as err:
            raise KeyWrongLastSequenceError(err.description) from None
        return ack.seq

    async def delete(
        self,
        key: str,
        last: int | None = None,
        validate_keys: bool = True,
        msg_ttl: float | None = None,
    ) -> bool:
        """Mark the key deleted (its history stays); with ``last``, only when that is
        its last revision. ``msg_ttl`` is ignored, as in nats-py."""
        subject = self._put_subject(key, validate_keys)
        try:
            await self._js.publish(
                subject,
                headers={KV_OP: KV_DEL},
                expected_last_subject_seq=last if last and last > 0 else None,
            )
        except WrongLastSequenceError as err:
            raise KeyWrongLastSequenceError(err.description) from None
        return True

    async def purge(self, key: str, msg_ttl: float | None = None) -> bool:
        """Remove every revision of the key, leaving one purge marker."""
        headers = {KV_OP: KV_PURGE, Header.ROLLUP.value: MSG_ROLLUP_SUBJECT}
        await self._js.publish(self._put_subject(key, True), headers=headers, msg_ttl=msg_ttl)
        return True

    async def purge_deletes(self, olderthan: int = 30 * 60) -> bool:
        """Remove the delete and purge markers; those younger than ``olderthan`` seconds
        (when positive) are kept as the one revision of their key."""
        watcher = await self.watchall()
        markers: list[kv_watch.Entry] = []
        try:
            async for entry in watcher:
                if entry is None:
                    break
                if entry.operation in (KV_DEL, KV_PURGE):
                    markers.append(entry)
        finally:
            await watcher.stop()
        now = datetime.datetime.now(datetime.timezone.utc)
        for entry in markers:
            age = (now - entry.created).total_seconds()
            keep = 1 if olderthan > 0 and age < olderthan else 0
            await self._js.purge_stream(self._stream, subject=self._pre + entry.key, keep=keep)
        return True

    async def status(self) -> BucketStatus:
        """The bucket's state and configuration."""
        return kv_api.BucketStatus(await self._js.stream_info(self._stream), self._name)

    async def watch(
        self,
        keys: str,
        headers_only: bool = False,
        include_history: bool = False,
        ignore_deletes: bool = False,
        meta_only: bool = False,
        inactive_threshold: float | None = None,
    ) -> KeyWatcher:
        """A watcher of the keys matching ``keys`` (wildcards ``*`` and ``>``): their
        current values (every revision with ``include_history``), then ``None``, then
        the updates as they come. ``meta_only``/``headers_only``: no values."""
        watcher = kv_watch.KeyWatcher(self._name, self._pre, ignore_deletes)
        opts = watch_options(include_history, meta_only, headers_only, inactive_threshold)
        await watcher.start(self._js, self._stream, self._pre + keys, **opts)
        return watcher

    async def watchall(self, **kwargs: Any) -> KeyWatcher:
        """A watcher of every key (see :meth:`watch`)."""
        return await self.watch(">", **kwargs)

    async def keys(self, filters: list[str] | None = None, **kwargs: Any) -> list[str]:
        """The keys that have a value (containing one of ``filters`` when given); raises
        :class:`NoKeysError` when there are none. Values are not transferred."""
        watcher = await self.watchall(ignore_deletes=True, meta_only=True)
        keys: list[str] = []
        try:
            async for entry in watcher:
                if entry is None:
                    break
                if not filters or any(f in entry.key for f in filters):
                    keys.append(entry.key)
        finally:
            await watcher.stop()
        if not keys:
            raise NoKeysError()
        return keys

    async def history(self, key: str) -> list[Entry]:
        """Every stored revision of ``key``, oldest first; raises :class:`NoKeysError`
        when there is none."""
        watcher = await self.watch(key, include_history=True)
        entries: list[kv_watch.Entry] = []
        try:
            async for entry in watcher:
                if entry is None:
                    break
                entries.append(entry)
        finally:
            await watcher.stop()
        if not entries:
            raise NoKeysError()
        return entries


# ------------------------------------------------------------------ buckets


async def bind_key_value(js: JetStreamContext, bucket: str) -> KeyValue:
    """The existing bucket ``bucket``; raises :class:`BucketNotFoundError`."""
    check_bucket(bucket)
    stream = KV_STREAM_TEMPLATE.format(bucket=bucket)
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        raise BucketNotFoundError(404, 10059, f"no bucket {bucket!r}") from None
    if (info.config.max_msgs_per_subject or 0) < 1:
        raise BadBucketError(None, None, f"stream {stream!r} is not a key-value bucket")
    return _bucket(js, bucket, info.config)


def _bucket(js: JetStreamContext, bucket: str, config: StreamConfig) -> KeyValue:
    """The bucket stored in a stream of this configuration. A mirror keeps its origin's
    subjects: it is read, and written, under the origin bucket's name (writes go to the
    origin, through its domain's API prefix when it is in another domain)."""
    pre = KV_PRE_TEMPLATE.format(bucket=bucket)
    put_pre = None
    mirror = config.mirror
    if mirror is not None and mirror.name:
        origin = mirror.name.removeprefix(KV_STREAM_TEMPLATE.format(bucket=""))
        pre = KV_PRE_TEMPLATE.format(bucket=origin)
        if mirror.external is not None and mirror.external.api:
            put_pre = f"{mirror.external.api}.{pre}"
    stream = KV_STREAM_TEMPLATE.format(bucket=bucket)
    return KeyValue(bucket, stream, pre, js, bool(config.allow_direct), put_pre)


def _kv_sources(config: KeyValueConfig) -> list[StreamSource] | None:
    """A sourcing bucket's sources as nats.go and ADR-57 make them: a source without
    subject transforms is a bucket (``KV_`` added to its name when missing) whose keys are
    mapped into this bucket's subjects; one with transforms is kept exactly as given."""
    if not config.sources:
        return None
    sources = []
    prefix = KV_STREAM_TEMPLATE.format(bucket="")
    for given in config.sources:
        source = given.evolve()
        if not source.subject_transforms and source.name:
            origin = source.name.removeprefix(prefix)
            source.name = prefix + origin
            if source.external is None or origin != config.bucket:
                source.subject_transforms = [
                    SubjectTransform(src=f"$KV.{origin}.>", dest=f"$KV.{config.bucket}.>")
                ]
        sources.append(source)
    return sources


def kv_stream_config(config: KeyValueConfig) -> StreamConfig:
    """The stream a bucket is stored in, as nats.go configures it: a mirror of another
    bucket's stream (``KV_`` added to the name when missing, with ``mirror_direct`` so
    that it answers Direct Gets too) has no subjects of its own."""
    duplicate_window = 120.0
    if config.ttl and config.ttl < duplicate_window:
        duplicate_window = config.ttl
    subjects: list[str] | None = [f"$KV.{config.bucket}.>"]
    mirror = None
    if config.mirror is not None:
        subjects = None
        mirror = config.mirror.evolve()
        if mirror.name and not mirror.name.startswith(KV_STREAM_TEMPLATE.format(bucket="")):
            mirror.name = KV_STREAM_TEMPLATE.format(bucket=mirror.name)
    return StreamConfig(
        name=KV_STREAM_TEMPLATE.format(bucket=config.bucket),
        description=config.description,
        subjects=subjects,
        allow_direct=True if config.direct is None else config.direct,
        allow_rollup_hdrs=True,
        allow_msg_ttl=True,
        deny_delete=True,
        discard=DiscardPolicy.NEW,
        duplicate_window=duplicate_window,
        max_age=config.ttl,
        max_bytes=config.max_bytes,
        max_consumers=-1,
        max_msg_size=config.max_value_size,
        max_msgs=-1,
        max_msgs_per_subject=config.history,
        num_replicas=config.replicas,
        storage=config.storage,
        republish=config.republish,
        placement=config.placement,
        mirror=mirror,
        mirror_direct=True if mirror is not None else None,
        sources=None if mirror is not None else _kv_sources(config),
        subject_delete_marker_ttl=config.limit_marker_ttl or None,
    )


async def create_key_value(js: JetStreamContext, config: KeyValueConfig) -> KeyValue:
    """Create (or find, when its configuration is the same) the bucket ``config``."""
    check_bucket(config.bucket)
    if config.history > KV_MAX_HISTORY:
        raise KeyHistoryTooLargeError()
    if config.limit_marker_ttl:
        account = await js.account_info()
        if account.api is None or not account.api.level:
            raise KeyValueLimitMarkerTTLNotSupportedError("limit_marker_ttl needs nats-server 2.11")
    info = await js.add_stream(kv_stream_config(config))
    return _bucket(js, config.bucket, info.config)


async def delete_key_value(js: JetStreamContext, bucket: str) -> bool:
    """Delete the bucket and everything in it."""
    check_bucket(bucket)
    return await js.delete_stream(KV_STREAM_TEMPLATE.format(bucket=bucket))
