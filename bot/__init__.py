"""dre-bot: alerts in, incident threads out."""
