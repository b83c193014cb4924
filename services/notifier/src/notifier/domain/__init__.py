"""The notifier's pure domain: the event → email mapping, recipients, an email's life, the invitation."""
