"""Bill files in Alipay's format: GBK CSV text and zips whose entry names are GBK."""
