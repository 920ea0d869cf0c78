"""Media assets: resumable uploads, ffmpeg probe/transcode on a database job queue, protected streaming.

``media`` knows nothing of courses: it stores assets and serves them to whoever
the caller allows. The contract other domains code against:

Services (``lms.media.services``)
    ``get_asset(asset_id) -> MediaAsset | None``
    ``ready_assets() -> list[MediaAsset]`` (status READY, newest first)

Model (``lms.media.models.MediaAsset``), read-only for other domains
    id, title, original_filename, kind (``AssetKind.VIDEO`` / ``AssetKind.AUDIO``),
    status (``AssetStatus.*``; READY when playable), size_bytes, duration_seconds,
    width, height (upright), error_message, uploaded_by_id, ready_at; ``is_ready``.

Access (``lms.media.access``)
    ``register_access_check(name, check)`` with ``check(user, asset_id) -> True | False | None``;
    streaming needs one True and no False (admins always may).
    ``register_usage(name, describe)`` with ``describe(asset_id) -> list[str]``: an
    asset something still uses cannot be deleted (the admin is told what uses it).

Streaming URLs (blueprint ``media``, login required, ``may_stream`` checked, 403 otherwise)
    ``media.playlist`` ``/media/<id>/hls/master.m3u8`` (and the variant playlists and
    segments below it), ``media.mp4`` ``/media/<id>/video.mp4``, ``media.poster``
    ``/media/<id>/poster.jpg``. Range and conditional requests work; with
    ``LMS_MEDIA_ACCEL_REDIRECT`` nginx sends the bytes.

Player (``templates/media/_player.html``, ``static/js/player.js``)
    ``{% from "media/_player.html" import player, player_scripts %}``
    ``{{ player(asset, start_at=0, dom_id="player") }}`` renders a responsive
    ``<video id=dom_id data-vanguard-player>`` (playsinline, controls, poster,
    ``data-src`` = master playlist, ``data-fallback`` = MP4, ``data-start-at``) and a
    quality selector; ``{{ player_scripts() }}`` adds hls.js and player.js.
    ``window.VanguardPlayer.mount(video, options?) -> {video, hls, destroy()}``;
    ``window.VanguardPlayer.get(video)``. Every ``video[data-vanguard-player]`` is
    mounted on DOMContentLoaded, then ``vanguard:player-ready`` (detail ``{player}``)
    is dispatched on it. The native ``<video>`` events (play, pause, seeking, seeked,
    timeupdate, ended, ratechange) are left alone for the study-time tracker.

Upload protocol (admin only, under ``/admin/media/uploads``; JSON, CSRF header)
    ``POST /uploads`` ``{filename, size, title}`` -> 201 ``{upload: {id, offset, size, chunk_size, url}}``
    (413 over ``LMS_MAX_UPLOAD_MB``). ``PUT <url>`` one chunk as the raw body with
    ``Content-Range: bytes START-END/TOTAL`` and ``X-Chunk-SHA256: <hex>``; chunks come
    in order, each ``chunk_size`` long but the last -> ``{offset}``; a chunk not starting
    at the offset gets 409 ``{offset}`` (resume from there), past the end or the cap 413,
    a damaged one 422. ``GET <url>`` -> where it stands. ``POST <url>/complete``
    ``{checksum}`` (SHA-256 over the raw SHA-256 digests of the chunks, in order) ->
    ``{asset_id, status, error}``: the file is checked, probed and queued, or refused
    with the reason on the asset. ``DELETE <url>`` cancels.

Jobs: ``lms.media.jobs.process_transcode_queue(now)`` runs every 5 s in each worker
(``lms.jobs.scheduled_jobs``); a transcode is claimed under a lease that its
heartbeat renews; stale leases are re-queued.
"""


def init_app(app) -> None:
    """The navigation entry of the video library."""
    from flask_babel import lazy_gettext as _l

    from lms.auth.models import Role
    from lms.navigation import register_nav

    register_nav("media_admin.assets", _l("Videos"), roles=(Role.ADMIN,), order=40, section="manage")
