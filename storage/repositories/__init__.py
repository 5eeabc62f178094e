"""Repositories: every query of the application lives here, grouped by concern."""

from storage.repositories.accounts import Account, AccountRepository
from storage.repositories.employees import EmployeeRepository

__all__ = ["Account", "AccountRepository", "EmployeeRepository"]
