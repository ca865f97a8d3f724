from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "apps.contacts"
    verbose_name = "Contacts and escalation"
