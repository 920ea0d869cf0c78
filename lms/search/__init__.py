"""Search (搜索): one index of courses, lessons, articles, announcements and questions.

Sits above ``courses``, ``notices`` and ``exams`` (it reads their rows) and is
imported by nothing. The index is kept up to date in the transaction of every
write to those rows (``index.install``), so no writing service can forget it.
"""
