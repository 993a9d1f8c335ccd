"""`alipay.data.dataservice.bill.downloadurl.query`: bill_type and bill_date in, a 30 s URL out."""

from __future__ import annotations

from collections.abc import Callable

from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.methods import Call, Fields
from paybao.domain.bills import BillNotFound, BillPeriodInvalid
from paybao.services.bills import BillService

BILL_TYPES = ("trade", "signcustomer")


def bill_url_method(bills: BillService) -> Callable[[Call], Fields]:
    def bill_url(call: Call) -> Fields:
        bill_type = call.biz.get("bill_type")
        bill_date = call.biz.get("bill_date")
        if bill_type not in BILL_TYPES:
            raise WireError("isv.invalid-parameter", "bill_type must be trade or signcustomer")
        if not isinstance(bill_date, str) or len(bill_date) > 10:
            raise WireError("isv.invalid-parameter", "bill_date must be yyyy-MM-dd or yyyy-MM")
        try:
            url = bills.download_url(call.app.app_id, bill_type, bill_date)
        except BillPeriodInvalid:
            raise WireError(
                "isv.invalid-parameter", "bill_date must be yyyy-MM-dd or yyyy-MM"
            ) from None
        except BillNotFound:
            raise WireError("isp.bill_not_exist", "账单不存在") from None
        return {"bill_download_url": url}

    return bill_url
