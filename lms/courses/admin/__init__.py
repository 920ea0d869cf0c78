"""Admin and secretary pages under /admin/courses (blueprint ``courses_admin``), one module per service.

- ``courses``: the course editor (settings, cover, publish, delete, article images, statistics);
- ``lessons``: lessons of a course (add, edit, reorder, delete);
- ``requirements``: required study (assign, progress, withdraw);
- ``archives``: the learning archives of the members in the viewer's scope, and their export;
- the old offline study paths (``lms.courses.offline_admin``), which lead to the meetings.

Admins edit courses, lessons and required study; secretaries and admins see required-study
progress and the archives.
"""

from lms.courses import offline_admin
from lms.courses.admin import archives, courses, lessons, requirements
from lms.courses.admin.common import bp

offline_admin.register(bp)

__all__ = ["archives", "bp", "courses", "lessons", "requirements"]
