"""Accounts, branches (a tree), statuses and roles, login, permission scope."""


def init_app(app) -> None:
    """Navigation entries of the member, branch, import, audit-log and settings pages."""
    from flask_babel import lazy_gettext as _l

    from lms.auth.models import Role
    from lms.navigation import register_nav

    register_nav("admin.users", _l("Members"), roles=(Role.ADMIN, Role.SECRETARY), order=10, section="manage")
    register_nav("admin.branches", _l("Branches"), roles=(Role.ADMIN, Role.SUBTREE_ADMIN), order=20, section="manage")
    register_nav("admin.import_members", _l("Import members"), roles=(Role.ADMIN,), order=30, section="manage")
    register_nav("org_admin.audit_log", _l("Audit log"), roles=(Role.ADMIN, Role.SECRETARY), order=90,
                 section="manage")  # fmt: skip
    register_nav("org_admin.settings", _l("Organisation settings"), roles=(Role.ADMIN,), order=95, section="manage")
