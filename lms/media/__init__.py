"""Media assets: storage, ffmpeg probe/transcode, the job queue and protected streaming.

``media`` knows nothing of courses: callers decide who may watch an asset by
registering an access check (see ``lms.media.access``).
"""
