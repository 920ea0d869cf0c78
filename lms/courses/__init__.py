"""Courses, lessons (video, micro-course, article), study progress and the study ledger."""
