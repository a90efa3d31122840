"""The Log Analytics source: audit events and risk detections from a Log Analytics workspace (Microsoft Sentinel's),
queried with KQL through azure-monitor-query, each row turned into the Graph JSON record it came from."""
