"""Microsoft Graph: the msgraph-sdk client, its rate limits, credentials, endpoints, and the Graph source."""
