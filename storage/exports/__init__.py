"""Files the application produces for people to print or open (XLSX)."""

from storage.exports.activation_codes import activation_codes_xlsx

__all__ = ["activation_codes_xlsx"]
