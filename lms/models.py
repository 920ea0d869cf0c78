"""Imports every domain's models so Alembic and relationships see all tables."""

from lms.assessment.models import *  # noqa: F403
from lms.audit import AuditEntry  # noqa: F401
from lms.auth.models import *  # noqa: F403
from lms.courses.models import *  # noqa: F403
from lms.exams.contests.models import *  # noqa: F403
from lms.exams.questions.models import *  # noqa: F403
from lms.exams.quizzes.models import *  # noqa: F403
from lms.jobs import SchedulerLease  # noqa: F401
from lms.media.models import *  # noqa: F403
from lms.meetings.models import *  # noqa: F403
from lms.notices.models import *  # noqa: F403
from lms.org_settings import OrgSetting  # noqa: F401
from lms.search.models import SearchDocument  # noqa: F401
