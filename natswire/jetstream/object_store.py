"""The Object Store (nats-py's ``ObjectStore``): a bucket is the stream ``OBJ_<bucket>``;
an object's content is chunks on ``$O.<bucket>.C.<nuid>``, its info a JSON message on
``$O.<bucket>.M.<base64url name>`` (rolled up), exactly as nats.go stores them.

::

    obs = await js.create_object_store("files")
    info = await obs.put("report.pdf", open("report.pdf", "rb"))
    with open("copy.pdf", "wb") as out:
        await obs.get("report.pdf", writeinto=out)
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import secrets
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from .api import DeliverPolicy, DiscardPolicy, Header, StreamConfig, StreamInfo
from .errors import (
    BadObjectMetaError,
    BucketNotFoundError,
    LinkIsABucketError,
    NotFoundError,
    ObjectAlreadyExists,
    ObjectDeletedError,
    ObjectNotFoundError,
)
from .kv import MSG_ROLLUP_SUBJECT, check_bucket
from .kv_api import ObjectInfo, ObjectLink, ObjectMeta, ObjectMetaOptions, ObjectStoreConfig
from .kv_watch import KeyWatcher
from .object_chunks import (
    DEFAULT_CHUNK_SIZE,
    check_digest,
    digest_chunks,
    fetch_chunks,
    publish_chunks,
)

if TYPE_CHECKING:
    from .context import JetStreamContext
    from .message import JetStreamMessage

OBJ_STREAM_TEMPLATE = "OBJ_{bucket}"
OBJ_ALL_CHUNKS_PRE_TEMPLATE = "$O.{bucket}.C.>"
OBJ_ALL_META_PRE_TEMPLATE = "$O.{bucket}.M.>"
OBJ_CHUNKS_PRE_TEMPLATE = "$O.{bucket}.C.{obj}"
OBJ_META_PRE_TEMPLATE = "$O.{bucket}.M.{obj}"
_ROLLUP = {Header.ROLLUP.value: MSG_ROLLUP_SUBJECT}


def encode_name(name: str) -> str:
    """An object name as its meta subject token (base64url, padded, as nats.go)."""
    return base64.urlsafe_b64encode(name.encode()).decode()


@dataclass
class ObjectResult:
    """What ``get`` returns: the info and, unless written into a file, the content."""

    info: ObjectInfo
    data: bytes | None = field(default=b"")


@dataclass(frozen=True)
class ObjectStoreStatus:
    """A bucket's state and configuration (nats-py's ``ObjectStore.ObjectStoreStatus``)."""

    stream_info: StreamInfo
    bucket: str

    @property
    def description(self) -> str | None:
        return self.stream_info.config.description

    @property
    def ttl(self) -> float | None:
        return self.stream_info.config.max_age

    @property
    def storage_type(self) -> Any:
        return self.stream_info.config.storage

    @property
    def replicas(self) -> int | None:
        return self.stream_info.config.num_replicas

    @property
    def sealed(self) -> bool:
        return bool(self.stream_info.config.sealed)

    @property
    def size(self) -> int:
        return self.stream_info.state.bytes


class ObjectWatcher(KeyWatcher):
    """Updates of a bucket's objects as :class:`ObjectInfo` (``None`` once, after the
    current ones, unless ``updates_only``)."""

    def __init__(self, bucket: str, ignore_deletes: bool, updates_only: bool) -> None:
        super().__init__(bucket, "", ignore_deletes)
        self._ignore_deleted_objects = ignore_deletes
        if updates_only:
            self._init_done = True  # no end-of-initial marker

    def on_msg(self, msg: JetStreamMessage) -> None:
        try:
            info = ObjectInfo.from_response(json.loads(msg.data))
        except (ValueError, TypeError):
            info = None
        if info is not None and not (self._ignore_deleted_objects and info.deleted):
            self._push(info)  # type: ignore[arg-type]
        if msg.metadata.num_pending == 0 and not self._init_done:
            self._init_done = True
            self._push(None)


class ObjectStore:
    """An Object Store bucket; get one with ``js.object_store(bucket)`` or
    ``js.create_object_store(bucket)``."""

    def __init__(self, name: str, stream: str, js: JetStreamContext) -> None:
        self._name = name
        self._stream = stream
        self._js = js

    def __repr__(self) -> str:
        return f"<ObjectStore bucket={self._name!r}>"

    @property
    def bucket(self) -> str:
        return self._name

    def _meta_subject(self, name: str) -> str:
        return OBJ_META_PRE_TEMPLATE.format(bucket=self._name, obj=encode_name(name))

    def _chunk_subject(self, nuid: str) -> str:
        return OBJ_CHUNKS_PRE_TEMPLATE.format(bucket=self._name, obj=nuid)

    async def get_info(self, name: str, show_deleted: bool | None = False) -> ObjectInfo:
        """The object's info; raises :class:`ObjectNotFoundError` (also for a deleted
        one unless ``show_deleted``)."""
        try:
            msg = await self._js.get_last_msg(self._stream, self._meta_subject(name), direct=True)
        except NotFoundError:
            raise ObjectNotFoundError() from None
        try:
            info = ObjectInfo.from_response(json.loads(msg.data))
        except (ValueError, TypeError) as exc:
            raise BadObjectMetaError(f"unreadable info of object {name!r}") from exc
        if info.deleted and not show_deleted:
            raise ObjectNotFoundError()
        return info

    async def get(
        self,
        name: str,
        writeinto: Any = None,
        show_deleted: bool | None = False,
    ) -> ObjectResult:
        """The object (following a link to an object), its digest verified. With
        ``writeinto`` (a binary file or anything with ``write``), the content is
        written there chunk by chunk and ``data`` stays empty."""
        info = await self.get_info(name, show_deleted)
        if not info.nuid:
            raise BadObjectMetaError(f"object {name!r} has no nuid")
        if info.options is not None and info.options.link is not None:
            link = info.options.link
            if not link.name:
                raise LinkIsABucketError(f"object {name!r} links to bucket {link.bucket!r}")
            other = await self._js.object_store(link.bucket)
            return await other.get(link.name, writeinto)
        result = ObjectResult(info)
        if not info.size:
            return result
        buffer = None
        if writeinto is not None:
            write = getattr(writeinto, "buffer", writeinto).write
        else:
            # Each chunk is copied into the buffer as it arrives, and getvalue() hands
            # the buffer's bytes over without a copy: no copy of the whole at the end.
            buffer = io.BytesIO()
            write = buffer.write
        chunk_size = (info.options.max_chunk_size if info.options else None) or DEFAULT_CHUNK_SIZE
        chunks = fetch_chunks(
            self._js, self._stream, self._chunk_subject(info.nuid), info.chunks or 0, chunk_size
        )
        try:
            digest = await digest_chunks(chunks, write)
        finally:
            await chunks.aclose()  # the consumer goes now, also when the get fails
        check_digest(info.digest, digest)
        if buffer is not None:
            result.data = buffer.getvalue()
        return result

    async def put(self, name: str, data: Any, meta: ObjectMeta | None = None) -> ObjectInfo:
        """Store ``data`` (bytes, str, a binary file or an async stream) as ``name``,
        in 128 KiB chunks, replacing what was there; its new info."""
        if meta is None:
            meta = ObjectMeta(name=name)
        elif name:
            meta.name = name
        if meta.options is None:
            meta.options = ObjectMetaOptions(max_chunk_size=DEFAULT_CHUNK_SIZE)
        obj = meta.name or ""
        try:
            existing: ObjectInfo | None = await self.get_info(obj)
        except ObjectNotFoundError:
            existing = None
        nuid = secrets.token_hex(11)
        chunk_subject = self._chunk_subject(nuid)
        info = ObjectInfo(
            name=obj, bucket=self._name, nuid=nuid, size=0, chunks=0,
            description=meta.description, headers=meta.headers, options=meta.options,
            mtime=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        )  # fmt: skip
        try:
            size = meta.options.max_chunk_size or DEFAULT_CHUNK_SIZE
            info.chunks, info.size, info.digest = await publish_chunks(
                self._js, chunk_subject, data, size
            )
            await self._publish_info(info)
        except BaseException:
            with suppress(Exception):  # a sealed bucket refuses the purge too
                await self._js.purge_stream(self._stream, subject=chunk_subject)
            raise
        if existing is not None and not existing.deleted and existing.nuid:
            await self._js.purge_stream(self._stream, subject=self._chunk_subject(existing.nuid))
        return info

    async def _publish_info(self, info: ObjectInfo) -> None:
        payload = json.dumps(info.as_request()).encode()
        await self._js.publish(self._meta_subject(info.name), payload, headers=_ROLLUP)

    async def add_link(self, name: str, target: ObjectInfo) -> ObjectInfo:
        """A link named ``name`` to the object ``target`` (nats.go's ``AddLink``)."""
        return await self._link(name, ObjectLink(bucket=target.bucket, name=target.name))

    async def add_bucket_link(self, name: str, bucket: ObjectStore) -> ObjectInfo:
        """A link named ``name`` to the whole bucket ``bucket``."""
        return await self._link(name, ObjectLink(bucket=bucket.bucket))

    async def _link(self, name: str, link: ObjectLink) -> ObjectInfo:
        info = ObjectInfo(
            name=name, bucket=self._name, nuid=secrets.token_hex(11), size=0, chunks=0,
            mtime=datetime.datetime.now(datetime.timezone.utc).isoformat(),
            options=ObjectMetaOptions(link=link),
        )  # fmt: skip
        await self._publish_info(info)
        return info

    async def update_meta(self, name: str, meta: ObjectMeta) -> None:
        """Change an object's name, description or headers; renaming onto an existing
        object raises :class:`ObjectAlreadyExists`."""
        try:
            info = await self.get_info(name)
        except ObjectNotFoundError:
            raise ObjectDeletedError() from None
        new_name = meta.name or name
        if new_name != name:
            try:
                other = await self.get_info(new_name, show_deleted=True)
            except ObjectNotFoundError:
                other = None
            if other is not None and not other.deleted:
                raise ObjectAlreadyExists(f"object {new_name!r} exists")
        info.name = new_name
        info.description = meta.description
        info.headers = meta.headers
        await self._publish_info(info)
        if new_name != name:
            await self._js.purge_stream(self._stream, subject=self._meta_subject(name))

    async def delete(self, name: str) -> None:
        """Delete the object: its chunks are purged, its info marked deleted."""
        info = await self.get_info(name)
        if not info.nuid:
            raise BadObjectMetaError(f"object {name!r} has no nuid")
        chunk_subject = self._chunk_subject(info.nuid)
        info.deleted, info.size, info.chunks, info.digest, info.mtime = True, 0, 0, "", ""
        try:
            await self._publish_info(info)
        finally:
            await self._js.purge_stream(self._stream, subject=chunk_subject)

    async def list(self, ignore_deletes: bool = False) -> list[ObjectInfo]:
        """Every object's info; raises :class:`NotFoundError` when there is none."""
        watcher = await self.watch(ignore_deletes=ignore_deletes)
        infos: list[ObjectInfo] = []
        try:
            async for info in watcher:
                if info is None:
                    break
                infos.append(cast(ObjectInfo, info))
        finally:
            await watcher.stop()
        if not infos:
            raise ObjectNotFoundError("no objects found")
        return infos

    async def watch(
        self,
        ignore_deletes: bool = False,
        include_history: bool = False,
        meta_only: bool = False,
        updates_only: bool = False,
    ) -> ObjectWatcher:
        """A watcher of the bucket's objects' infos (see :class:`ObjectWatcher`)."""
        watcher = ObjectWatcher(self._name, ignore_deletes, updates_only)
        policy = DeliverPolicy.NEW if updates_only else None
        if policy is None and not include_history:
            policy = DeliverPolicy.LAST_PER_SUBJECT
        all_meta = OBJ_ALL_META_PRE_TEMPLATE.format(bucket=self._name)
        await watcher.start(
            self._js, self._stream, all_meta, deliver_policy=policy, idle_heartbeat=1.0,
            inactive_threshold=5.0,
        )  # fmt: skip
        return watcher

    async def seal(self) -> None:
        """Seal the bucket: nothing can be changed in it any more."""
        info = await self._js.stream_info(self._stream)
        await self._js.update_stream(info.config.evolve(sealed=True))

    async def status(self) -> ObjectStoreStatus:
        """The bucket's state and configuration."""
        return ObjectStoreStatus(await self._js.stream_info(self._stream), self._name)


# nats-py's nested names.
ObjectStore.ObjectResult = ObjectResult  # type: ignore[attr-defined]
ObjectStore.ObjectStoreStatus = ObjectStoreStatus  # type: ignore[attr-defined]
ObjectStore.ObjectWatcher = ObjectWatcher  # type: ignore[attr-defined]


# ------------------------------------------------------------------ buckets


async def bind_object_store(js: JetStreamContext, bucket: str) -> ObjectStore:
    """The existing bucket ``bucket``; raises :class:`BucketNotFoundError`."""
    check_bucket(bucket)
    stream = OBJ_STREAM_TEMPLATE.format(bucket=bucket)
    try:
        await js.stream_info(stream)
    except NotFoundError:
        raise BucketNotFoundError(404, 10059, f"no object store {bucket!r}") from None
    return ObjectStore(bucket, stream, js)


async def create_object_store(js: JetStreamContext, config: ObjectStoreConfig) -> ObjectStore:
    """Create (or find, when its configuration is the same) the bucket ``config``."""
    if config.bucket is None:
        raise ValueError("create_object_store needs a bucket name")
    check_bucket(config.bucket)
    stream = StreamConfig(
        name=OBJ_STREAM_TEMPLATE.format(bucket=config.bucket),
        description=config.description,
        subjects=[
            OBJ_ALL_CHUNKS_PRE_TEMPLATE.format(bucket=config.bucket),
            OBJ_ALL_META_PRE_TEMPLATE.format(bucket=config.bucket),
        ],
        max_age=config.ttl,
        max_bytes=config.max_bytes or -1,
        storage=config.storage,
        num_replicas=config.replicas,
        placement=config.placement,
        discard=DiscardPolicy.NEW,
        allow_rollup_hdrs=True,
        allow_direct=True,
    )
    await js.add_stream(stream)
    return ObjectStore(config.bucket, stream.name or "", js)


async def delete_object_store(js: JetStreamContext, bucket: str) -> bool:
    """Delete the bucket and every object in it."""
    check_bucket(bucket)
    return await js.delete_stream(OBJ_STREAM_TEMPLATE.format(bucket=bucket))
