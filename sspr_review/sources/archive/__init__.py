"""Entra logs archived by a diagnostic setting to Azure Storage: a downloaded container tree (read by the files
source) or the storage account itself (``[sources] audit/risk = "archive"``).

:mod:`.envelope` turns one archived line into the Graph record it carries; :mod:`.blobs` names the hour of a blob
from its path (both layouts) and reads blobs line by line into pages, dropping repeated deliveries and noting the
hours present; :mod:`.tree` is a downloaded tree; :mod:`.storage` the storage account through azure-storage-blob.
"""
