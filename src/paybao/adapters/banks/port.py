"""The bank port. Defined beside the services that call it (services may not import adapters);
bank adapters import it from here."""

from paybao.services.banking import BankChannel, BankOutcome, BankResult, StatementLine

__all__ = ["BankChannel", "BankOutcome", "BankResult", "StatementLine"]
