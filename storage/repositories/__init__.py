"""Repositories: every query of the application lives here, grouped by concern."""

from storage.repositories.accounts import Account, AccountRepository, LinkOutcome, LinkRepository
from storage.repositories.audit import AuditEntry, AuditRepository
from storage.repositories.employees import EmployeeCard, EmployeeDirectory, EmployeeRepository

__all__ = [
    "Account",
    "AccountRepository",
    "AuditEntry",
    "AuditRepository",
    "EmployeeCard",
    "EmployeeDirectory",
    "EmployeeRepository",
    "LinkOutcome",
    "LinkRepository",
]
