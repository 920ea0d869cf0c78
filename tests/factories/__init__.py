"""Plain factory functions shared by every test (fixtures and browser journeys wrap them).

One module per domain: ``auth`` (branches, members, the test password),
``media`` (assets), ``courses`` (courses with lessons), ``exams`` (banks,
questions, quizzes), ``contests`` (contests, answers) and ``assessment``
(study rows, targets). Each function writes through the models or services and
commits, so what it makes is visible to requests served on other connections
(the test client, the live server). Import them directly
(``from tests.factories.exams import create_quiz``) or use the fixtures in the
conftest files (``make_user``, ``make_course``, ``make_quiz``...), which wrap them.
"""
