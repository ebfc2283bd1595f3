"""A photo or file sent as a request's raw body, read whole with a size limit."""

from __future__ import annotations

from aiohttp import ClientPayloadError, web

from safecall.errors import ApiError

MAX_PHOTO = 5 * 1024 * 1024


async def read_photo(request: web.Request, limit: int = MAX_PHOTO) -> bytes:
    """The body, refused 413 ``photo_too_large`` past ``limit`` (announced or as it comes)
    and 400 ``photo_incomplete`` when the upload is cut."""
    too_large = ApiError(
        413, "photo_too_large", f"A photo may be at most {limit // (1024 * 1024)} MB."
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    data = bytearray()
    try:
        async for piece in request.content.iter_any():
            data += piece
            if len(data) > limit:
                raise too_large
    except (ClientPayloadError, ConnectionError):
        raise ApiError(400, "photo_incomplete", "The photo did not arrive whole.") from None
    return bytes(data)
