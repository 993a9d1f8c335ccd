"""Billers of city services, behind the `BillerChannel` port (services/billpay_records.py)."""
