"""Accounts, branches (a tree), statuses and roles, login, permission scope."""
