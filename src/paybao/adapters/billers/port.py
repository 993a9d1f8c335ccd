"""The billers' port. Defined beside the services that call it (services may not import
adapters); biller adapters import it from here."""

from paybao.services.billpay_records import BillerAnswer, BillerChannel, BillerOutcome, Statement

__all__ = ["BillerAnswer", "BillerChannel", "BillerOutcome", "Statement"]
