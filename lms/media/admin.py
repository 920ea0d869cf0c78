"""Admin pages for media: upload (chunked, resumable), the asset list with live progress, asset detail.

The upload protocol (JSON + raw chunks) is described in ``lms/media/__init__.py``.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms import clock
from lms.actions import run_action
from lms.auth.permissions import admin_required
from lms.downloads import name_download
from lms.errors import DomainError
from lms.extensions import db
from lms.inputs import body_limit, json_object, page_arg
from lms.media import services
from lms.media.forms import ActionForm, AssetTitleForm
from lms.media.models import AssetStatus, JobStatus, MediaAsset
from lms.media.settings import setting
from lms.media.storage import get_storage

bp = Blueprint("media_admin", __name__, url_prefix="/admin/media")

JOB_STATUS_LABELS = {
    JobStatus.QUEUED: _l("Queued"),
    JobStatus.RUNNING: _l("Running"),
    JobStatus.DONE: _l("Done"),
    JobStatus.FAILED: _l("Failed"),
}
STATUS_LABELS = {
    AssetStatus.UPLOADING: _l("Uploading"),
    AssetStatus.QUEUED: _l("Waiting to transcode"),
    AssetStatus.PROCESSING: _l("Transcoding"),
    AssetStatus.READY: _l("Ready"),
    AssetStatus.FAILED: _l("Failed"),
}
PAGE_SIZE = 30


@bp.app_template_filter("media_duration")
def media_duration(seconds: float | None) -> str:
    """1:05:09 or 4:07 (hours only when needed)."""
    if seconds is None:
        return ""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@bp.app_template_filter("media_size")
def media_size(size_bytes: int | None) -> str:
    """Bytes as B, KB, MB or GB (binary units, one decimal)."""
    value = float(size_bytes or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _upload_json(upload) -> dict:
    return {
        "id": upload.id,
        "asset_id": upload.asset_id,
        "offset": upload.received_bytes,
        "size": upload.size_bytes,
        "chunk_size": upload.chunk_size,
        "url": url_for("media_admin.upload_chunk", upload_id=upload.id),
    }


def _error(error: DomainError):
    body = {"ok": False, "error": str(error.message)}
    if isinstance(error, services.OffsetMismatch):
        body["offset"] = error.offset
    return jsonify(body), error.status_code


@bp.route("/")
@admin_required
def assets():
    """Every asset, newest first, with status and live progress."""
    status = request.args.get("status", "")
    query_text = request.args.get("q", "").strip()
    page = page_arg()
    pagination = db.paginate(
        services.list_assets(status=status, query=query_text), page=page, per_page=PAGE_SIZE, error_out=False
    )
    return render_template(
        "media/admin/assets.html",
        pagination=pagination,
        status=status,
        q=query_text,
        status_labels=STATUS_LABELS,
    )


@bp.route("/status.json")
@admin_required
def status_json():
    """Status and progress of the assets listed in ``ids`` (comma-separated), for polling."""
    ids = [int(part) for part in request.args.get("ids", "").split(",") if part.strip().isdigit()]
    states = services.asset_states(ids)
    for state in states:
        state["label"] = str(STATUS_LABELS[AssetStatus(state["status"])])
        job = state.get("job")
        if job:
            job["label"] = str(JOB_STATUS_LABELS[JobStatus(job["status"])])
            for moment in ("started_at", "finished_at"):
                job[moment] = format_datetime(job[moment], "short") if job[moment] else "—"
    return jsonify(ok=True, assets=states)


@bp.route("/upload")
@admin_required
def upload():
    """The upload page (upload.js sends the file in chunks)."""
    return render_template(
        "media/admin/upload.html",
        max_upload_mb=setting("MAX_UPLOAD_MB"),
        max_duration_minutes=setting("MAX_DURATION_MINUTES"),
    )


@bp.route("/uploads", methods=["POST"])
@admin_required
@body_limit(16 * 1024)
def upload_start():
    """Open an upload: JSON ``{filename, size, title}`` -> ``{upload: {id, offset, chunk_size, url}}``."""
    body = json_object()
    try:
        size = int(body.get("size") or 0)
        upload = services.start_upload(
            current_user,
            filename=str(body.get("filename") or ""),
            size_bytes=size,
            title=str(body.get("title") or ""),
            now=clock.utcnow(),
        )
    except (TypeError, ValueError):
        return jsonify(ok=False, error=str(_l("The file size is missing or invalid."))), 422
    except DomainError as error:
        db.session.rollback()
        return _error(error)
    db.session.commit()
    return jsonify(ok=True, upload=_upload_json(upload)), 201


@bp.route("/uploads/<upload_id>", methods=["GET"])
@admin_required
def upload_status(upload_id: str):
    """Where an upload stands (the offset to resume from)."""
    try:
        upload = services.get_upload(upload_id)
    except DomainError as error:
        return _error(error)
    return jsonify(ok=True, upload=_upload_json(upload))


@bp.route("/uploads/<upload_id>", methods=["PUT"])
@admin_required
@body_limit(lambda: services.chunk_size_bytes() + 64 * 1024)
def upload_chunk(upload_id: str):
    """Receive one chunk: raw body, ``Content-Range: bytes START-END/TOTAL``, ``X-Chunk-SHA256``."""
    try:
        upload = services.get_upload(upload_id)
        start, end, total = services.parse_content_range(request.headers.get("Content-Range"))
        offset = services.receive_chunk(
            upload,
            start=start,
            end=end,
            total=total,
            stream=request.stream,
            sha256=request.headers.get("X-Chunk-SHA256", ""),
            content_length=request.content_length,
            now=clock.utcnow(),
        )
    except DomainError as error:
        db.session.rollback()
        return _error(error)
    db.session.commit()
    return jsonify(ok=True, offset=offset)


@bp.route("/uploads/<upload_id>/complete", methods=["POST"])
@admin_required
@body_limit(16 * 1024)
def upload_complete(upload_id: str):
    """Finish an upload: JSON ``{checksum}``; the file is checked, probed and queued (or refused)."""
    body = json_object()
    try:
        upload = services.get_upload(upload_id)
        asset = services.complete_upload(upload, checksum=str(body.get("checksum") or ""), now=clock.utcnow())
    except DomainError as error:
        db.session.rollback()
        return _error(error)
    db.session.commit()
    return jsonify(
        ok=True,
        asset_id=asset.id,
        status=str(asset.status),
        error=asset.error_message or "",
        url=url_for("media_admin.asset_detail", asset_id=asset.id),
    )


@bp.route("/uploads/<upload_id>", methods=["DELETE"])
@admin_required
def upload_cancel(upload_id: str):
    """Cancel an upload: its bytes and its asset are removed."""
    try:
        services.cancel_upload(services.get_upload(upload_id))
    except DomainError as error:
        db.session.rollback()
        return _error(error)
    db.session.commit()
    return jsonify(ok=True)


@bp.route("/<int:asset_id>", methods=["GET", "POST"])
@admin_required
def asset_detail(asset_id: int):
    """Probe information, jobs and errors of one asset; rename it; preview it when ready."""
    asset = db.get_or_404(MediaAsset, asset_id)
    form = AssetTitleForm(obj=asset)
    if form.validate_on_submit():
        try:
            services.rename_asset(asset, form.title.data)
        except DomainError as error:
            db.session.rollback()
            form.title.errors = [*form.title.errors, str(error.message)]
        else:
            db.session.commit()
            flash(_l("Changes saved."), "success")
            return redirect(url_for("media_admin.asset_detail", asset_id=asset.id))
    return render_template(
        "media/admin/asset_detail.html",
        asset=asset,
        form=form,
        action_form=ActionForm(),
        status_labels=STATUS_LABELS,
        job_status_labels=JOB_STATUS_LABELS,
        stored_bytes=get_storage().usage_bytes(asset.id),
    )


@bp.route("/<int:asset_id>/retry", methods=["POST"])
@admin_required
def asset_retry(asset_id: int):
    """Queue a failed transcode again."""
    asset = db.get_or_404(MediaAsset, asset_id)
    if ActionForm().validate_on_submit():
        try:
            job = services.retry_asset(asset, now=clock.utcnow())
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            db.session.commit()
            if job is None:
                flash(asset.error_message, "danger")
            else:
                flash(_l("The video is queued for transcoding again."), "success")
    return redirect(url_for("media_admin.asset_detail", asset_id=asset.id))


@bp.route("/<int:asset_id>/delete", methods=["POST"])
@admin_required
def asset_delete(asset_id: int):
    """Delete an asset with every file stored for it, the original included."""
    asset = db.get_or_404(MediaAsset, asset_id)
    if not ActionForm().validate_on_submit():
        return redirect(url_for("media_admin.asset_detail", asset_id=asset.id))
    return run_action(
        lambda: services.delete_asset(asset),
        to=url_for("media_admin.assets"),
        failed_to=url_for("media_admin.asset_detail", asset_id=asset_id),
        success=_l("“%(title)s” and its files were deleted.", title=asset.title),
    )


@bp.route("/<int:asset_id>/original")
@admin_required
def asset_original(asset_id: int):
    """Download the uploaded original as it arrived (kept for inspection)."""
    asset = db.get_or_404(MediaAsset, asset_id)
    path = get_storage().original(asset.id)
    if not path.is_file():
        return redirect(url_for("media_admin.asset_detail", asset_id=asset.id))
    response = send_file(path, mimetype="application/octet-stream", conditional=True)
    suffix = "".join(Path(asset.original_filename or "").suffixes[-1:])
    return name_download(response, asset.original_filename or f"media-{asset.id}", f"media-{asset.id}{suffix}")
