"""A job's images made ready for Gemini: fetched (URL images), read from the blob store,
checked, downscaled when asked, priced in tokens, and sent inline or through the Files API."""

from __future__ import annotations

from dataclasses import dataclass

from imagejobs.core.imageinfo import (
    ImageInfo,
    ImageRejected,
    inspect_image,
    prepare_for_send,
)
from imagejobs.core.tokens import image_tokens
from imagejobs.core.transport import PartSize, plan_transport
from imagejobs.execution.failures import JobFailed
from imagejobs.execution.uploads import ensure_uploaded
from imagejobs.gemini.port import FileImage, ImagePart, InlineImage
from imagejobs.net.fetch import FetchError, GuardedFetcher
from imagejobs.net.guard import BlockedAddress, InvalidURL
from imagejobs.runtime import Runtime
from imagejobs.store.blobs import BlobNotFound, sha256_hex
from imagejobs.store.images import ImageFacts, SentImage, record_fetched
from imagejobs.store.models import Job, JobImage


@dataclass
class LoadedImage:
    """A checked image and what will be sent for it. The bytes to send are held only while
    :meth:`release` was not called: a job of thousands of images keeps a bounded amount in
    memory and reads an image's bytes back from the blob store when it is sent."""

    position: int
    sha256: str
    label: str  # how error messages name the image
    info: ImageInfo
    sent_mime: str
    sent_width: int
    sent_height: int
    sent_size: int
    sent_sha256: str
    tokens: int
    known_mime: str | None  # what the images table already knew
    held: bytes | None = None  # the bytes to send, while held

    def facts(self) -> ImageFacts | None:
        """The content's facts to write, when the images table did not know them yet."""
        if self.known_mime is not None:
            return None
        info = self.info
        return ImageFacts(info.mime, info.width, info.height, info.orientation, info.size_bytes)

    def as_sent(self, transport: str | None, file_id: str | None) -> SentImage:
        return SentImage(
            self.position,
            self.sent_width,
            self.sent_height,
            self.sent_size,
            self.tokens,
            transport,
            file_id,
        )

    def data(self, runtime: Runtime) -> bytes:
        """The bytes to send: held, or read back from the blob store."""
        if self.held is not None:
            return self.held
        return runtime.blobs.get(self.sent_sha256)

    def release(self, runtime: Runtime | None = None) -> None:
        """Stop holding the bytes. With ``runtime`` they can be read back: rotated or
        downscaled bytes are stored in the blob store first (the original ones are there)."""
        if runtime is not None and self.held is not None and self.sent_sha256 != self.sha256:
            runtime.blobs.put(self.held)
        self.held = None


@dataclass(frozen=True)
class Part:
    """One image of a call as it goes to Gemini, and how (``inline`` or ``file``)."""

    image: ImagePart
    transport: str
    file_id: str | None


def load_image(runtime: Runtime, job: Job, row: JobImage, known_mime: str | None) -> LoadedImage:
    """The image of ``row`` ready to send; raises :class:`JobFailed` or :class:`ImageRejected`."""
    label = f"image {row.position + 1}" + (f" ({row.filename})" if row.filename else "")
    sha = row.sha256 if row.sha256 is not None else fetch_image(runtime, job.id, row)
    try:
        data = runtime.blobs.get(sha)
    except BlobNotFound:
        raise JobFailed(
            "image_blob_missing",
            f"{label}: its stored bytes (sha256 {sha}) are missing from the blob store; "
            "submit the image again",
        ) from None
    settings = runtime.settings
    try:
        # Content the images table knows was decoded completely by an earlier job: same bytes
        # (by sha256), same answer, so only the header is read again.
        verified = known_mime is not None
        info = inspect_image(
            data,
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
            verified=verified,
        )
        sent = prepare_for_send(
            data, info, longest_side=settings.downscale_longest_side, verified=verified
        )
    except ImageRejected as exc:
        raise ImageRejected(exc.code, f"{label}: {exc}") from None
    sent_sha = sha if sent.data is data else sha256_hex(sent.data)
    resolution = (job.options or {}).get("media_resolution")
    tokens = image_tokens(job.model, sent.width, sent.height, resolution)
    return LoadedImage(
        row.position,
        sha,
        label,
        info,
        sent.mime,
        sent.width,
        sent.height,
        len(sent.data),
        sent_sha,
        tokens,
        known_mime,
        sent.data,
    )


def fetch_image(runtime: Runtime, job_id: str, row: JobImage) -> str:
    """Download an image URL through the address guard and store it like an upload."""
    fetcher = GuardedFetcher.from_settings(runtime.settings)
    if row.source_url is None:
        raise ValueError(f"image {row.position + 1} of job {job_id} has neither bytes nor a URL")
    try:
        fetched = fetcher.get(row.source_url)
    except (BlockedAddress, InvalidURL) as exc:
        raise JobFailed("image_url_refused", f"image {row.position + 1}: {exc}") from None
    except FetchError as exc:
        raise JobFailed("image_fetch_failed", f"image {row.position + 1}: {exc}") from None
    sha = runtime.blobs.put(fetched.content)
    with runtime.db.session() as session:
        record_fetched(session, job_id, row.position, sha, len(fetched.content))
    return sha


def send_parts(runtime: Runtime, batch: list[LoadedImage], prompt_bytes: int) -> list[Part]:
    """Inline or Files API for each image of one call, uploading (or reusing) as needed."""
    plan = plan_transport(
        [PartSize(image.sent_sha256, image.sent_size) for image in batch],
        prompt_bytes,
        runtime.settings.inline_limit_bytes,
    )
    parts: list[Part] = []
    for image in batch:
        if plan[image.sent_sha256] == "inline":
            parts.append(Part(InlineImage(image.data(runtime), image.sent_mime), "inline", None))
            continue
        uploaded = ensure_uploaded(
            runtime,
            image.sent_sha256,
            image.data(runtime),
            image.sent_mime,
            display_name=f"imagejobs-{image.sent_sha256[:16]}",
        )
        image.release()  # sent as a file reference: its bytes are not needed again
        parts.append(Part(FileImage(uploaded.uri, uploaded.mime), "file", uploaded.id))
    return parts


def load_all(
    runtime: Runtime, job: Job, rows: list[tuple[JobImage, str | None]]
) -> list[LoadedImage]:
    """Every image of the job checked (a corrupt one fails the job before anything is paid
    for), holding at most ``IMAGEJOBS_INLINE_LIMIT_BYTES`` of their bytes: past that, an
    image's bytes are let go once checked and read back from the blob store when sent."""
    budget = runtime.settings.inline_limit_bytes
    images: list[LoadedImage] = []
    held = 0
    for row, mime in rows:
        image = load_image(runtime, job, row, mime)
        held += image.sent_size
        if held > budget:
            image.release(runtime)
        images.append(image)
    return images
