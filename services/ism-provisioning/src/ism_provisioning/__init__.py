"""The ism-provisioning service."""
