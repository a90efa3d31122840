"""The e-mailed weekly review: composing the message, and sending it by SMTP or Graph ``sendMail``."""
