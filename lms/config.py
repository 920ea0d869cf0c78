"""Configuration: defaults here, then instance/config.py, then LMS_* environment variables.

Every setting is read as ``app.config[NAME]`` and set from the environment as
``LMS_NAME`` (values are parsed as JSON when they can be, so ``LMS_HEARTBEAT_SECONDS=15``
is an int). Nothing here is a secret.
"""

from __future__ import annotations


class Config:
    # The environment: "development" allows a generated secret key; anything else needs one.
    ENV_NAME = "production"
    SECRET_KEY: str | None = None
    # Empty means the embedded default: a SQLite file in instance/.
    DATABASE_URL = ""
    REDIS_URL = ""
    MEDIA_ROOT = ""  # empty: instance/media
    TIMEZONE = "Asia/Shanghai"
    # "inprocess" runs APScheduler inside the serving process (quick start); anything
    # else leaves scheduled jobs to `flask lms worker`.
    SCHEDULER = "off"
    SCHEDULER_LEASE_SECONDS = 60
    # Logging level of `flask lms worker` (job runs, lease hand-overs).
    LOG_LEVEL = "INFO"
    # How many reverse proxies (nginx) stand in front: their X-Forwarded-* headers
    # are then trusted, so rate limits and logs see the member's address.
    TRUSTED_PROXIES = 0

    # Study time (DESIGN.md §3).
    HEARTBEAT_SECONDS = 15
    MAX_PLAYBACK_RATE = 2.0
    COMPLETION_RATIO = 0.9
    MINUTES_PER_STUDY_HOUR = 45
    OFFLINE_EDIT_WINDOW_DAYS = 30
    OFFLINE_MAX_HOURS = 8  # the most 学时 one offline record may credit
    # Anti-farming (反刷课): credit stops after this long without any interaction, and
    # an unanswered presence check stops credit after PRESENCE_ANSWER_SECONDS.
    IDLE_MINUTES = 10
    PRESENCE_ANSWER_SECONDS = 60
    # The secretaries' anomaly list: online study hours in a day beyond plausible, study
    # in the night hours [start, end) local time, a share of refused beats, beats from
    # parallel sessions, and quiz answers faster than a question can be read.
    ANOMALY_MAX_DAILY_HOURS = 8
    ANOMALY_NIGHT_HOURS = [0, 5]
    ANOMALY_NIGHT_MINUTES = 20
    ANOMALY_REFUSED_SHARE = 0.3
    ANOMALY_MIN_REFUSED_BEATS = 20
    ANOMALY_PARALLEL_BEATS = 10
    ANOMALY_SECONDS_PER_QUESTION = 3

    # Meetings (DESIGN.md §10): the sign-in window around a meeting, the QR code's
    # rotation, when minutes lock, reminders and the 事前提醒 lead time.
    MEETING_CHECKIN_OPENS_MINUTES = 30  # default for new meetings; each meeting keeps its own
    MEETING_LATE_AFTER_MINUTES = 5  # signing in later than start + this is "late"
    MEETING_CHECKOUT_CLOSES_MINUTES = 30  # sign-out stays open this long after the end
    MEETING_LEFT_EARLY_MINUTES = 10  # signing out earlier than end - this is "left early"
    MEETING_TOKEN_SECONDS = 30  # the QR code changes this often; the previous code stays valid
    MEETING_LOCK_DAYS = 7  # a closed meeting (attendance, minutes) locks this many days later
    MEETING_REMINDER_HOURS = 24  # attendees are reminded this long before the start
    MEETING_DUE_WARNING_DAYS = 14  # warn a secretary this long before a required meeting falls due
    MEETING_MAX_FILE_MB = 20

    # Assessment (DESIGN.md §6): a member who joins mid-period (account made) owes the share of
    # the period's required hours for the days since, and item due dates count from that day.
    ASSESSMENT_PRORATE = True

    # Quizzes (DESIGN.md §4).
    QUIZ_GRACE_SECONDS = 20
    # Answer saves per member: generous for honest autosaving, a wall for scripts.
    QUIZ_SAVE_LIMIT = "300 per minute"

    # Contests (DESIGN.md §5): the live board is recomputed at most this often (one
    # ranking query per refresh, shared by every viewer of a process, or of all
    # processes with LMS_REDIS_URL).
    CONTEST_BOARD_SECONDS = 3
    CONTEST_HIDDEN_LIMIT = "120 per minute"  # "page hidden" reports per member
    CHALLENGE_ANSWER_LIMIT = "60 per minute"  # challenge answers per member

    # Media (DESIGN.md §7).
    MAX_UPLOAD_MB = 4096
    MAX_DURATION_MINUTES = 240
    FFMPEG = ""
    FFPROBE = ""
    MEDIA_ACCEL_REDIRECT = ""

    # Rate limits, sized for honest use.
    LOGIN_LIMIT_PER_ACCOUNT = "5 per 5 minutes"
    LOGIN_LIMIT_PER_IP = "30 per 5 minutes"
    # Forgotten password (only with SMTP): how long an e-mailed link works, and how often one may be asked for.
    PASSWORD_RESET_MINUTES = 30
    PASSWORD_RESET_LIMIT_PER_ACCOUNT = "3 per hour"  # noqa: S105 (a rate, not a secret)
    PASSWORD_RESET_LIMIT_PER_IP = "10 per hour"  # noqa: S105 (a rate, not a secret)

    # Mail (reminders); empty host means no e-mail, in-app notifications only.
    SMTP_HOST = ""
    SMTP_PORT = 25
    SMTP_USER = ""
    SMTP_PASSWORD = ""
    SMTP_SENDER = "vanguard@localhost"
    SMTP_TLS = False

    LANGUAGES = ("zh_Hans", "en")
    BABEL_DEFAULT_LOCALE = "zh_Hans"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"

    # Flask and extensions.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # A CSRF token lives as long as the session: a token that expires after an hour
    # would refuse the answers of a member in the middle of a long exam.
    WTF_CSRF_TIME_LIMIT = None
    WTF_CSRF_SSL_STRICT = False
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    MAX_FORM_MEMORY_SIZE = 2 * 1024 * 1024
    # The largest request body, in MB (imports, images; a video comes in chunks that
    # have their own bound). Views that take small bodies have smaller bounds.
    MAX_REQUEST_MB = 16
    # Session and remember-me cookies marked Secure: "auto" marks them on requests
    # served over HTTPS (as seen through LMS_TRUSTED_PROXIES), true always, false never.
    SECURE_COOKIES = "auto"
    # Bulk imports (members, questions) are read into memory, so they are bounded.
    MAX_IMPORT_MB = 10
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
