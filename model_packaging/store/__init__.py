"""The artifact store: AWS sessions, checksummed uploads, publishing and the Model Registry."""
