"""Question banks and importers, quizzes, attempts, grading, and contests."""
