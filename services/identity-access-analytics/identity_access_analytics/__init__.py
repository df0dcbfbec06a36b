"""Identity and access analytics: role mining, separation of duties, dormant accounts, privilege creep."""

from .risk import SodRule, User, dormant_accounts, privilege_creep, sod_violations
from .roles import Role, jaccard, mine_roles
from .snapshot import SnapshotError, analyse

__all__ = ["Role", "SnapshotError", "SodRule", "User", "analyse", "dormant_accounts", "jaccard",
           "mine_roles", "privilege_creep", "sod_violations"]
__version__ = "0.1.0"
