"""The pages' words for the stored codes (English msgids, Spanish in the catalog; exports keep models' labels)."""

from __future__ import annotations

from app.i18n import N_

OT_STATUS = {
    "almacenadora": N_("Warehouse (almacenadora)"),
    "bodega": N_("Storage (bodega)"),
    "cerrada": N_("Closed"),
    "desprendimiento": N_("Release (desprendimiento)"),
    "disputa": N_("Dispute"),
    "en_rada": N_("At anchor"),
    "fact_adicionales": N_("Additional billing"),
    "finalizada": N_("Finished"),
    "puerto": N_("In port"),
    "transito": N_("In transit"),
}
PROVISION = {
    "pending": N_("Pending"),
    "in_review": N_("In review"),
    "disputed": N_("Disputed"),
    "provisioned": N_("Provisioned"),
    "voided": N_("Voided"),
    "partially_voided": N_("Partially voided"),
    "rejected": N_("Rejected"),
}
BILLING = {"pending": N_("Pending"), "billed": N_("Billed")}
PAYMENT = {"pending": N_("Pending"), "partial": N_("Partly paid"), "paid": N_("Paid")}
OPERATION = {"importacion": N_("Import"), "exportacion": N_("Export")}
ASSIGNMENT = {
    "manual": N_("By hand"),
    "ot_number": N_("OT number"),
    "mbl_container": N_("MBL and container"),
    "master_bl": N_("MBL"),
    "container": N_("Container"),
    "unassigned": N_("Unassigned"),
}
PROVIDER_TYPE = {
    "naviera": N_("Shipping line"),
    "agente_local": N_("Local agent"),
    "agencia_aduanal": N_("Customs broker"),
    "agente_origen": N_("Origin agent"),
    "aseguradora": N_("Insurer"),
    "aerolinea": N_("Airline"),
    "consolidadora": N_("Consolidator"),
    "almacenadora": N_("Warehouse"),
    "transportista": N_("Haulier"),
    "otro": N_("Other"),
}
TRANSITION = {
    "in_review": N_("Send to review"),
    "provisioned": N_("Provision it"),
    "rejected": N_("Reject"),
    "voided": N_("Void"),
    "billed": N_("Mark billed"),
    "partial": N_("Record a partial payment"),
    "paid": N_("Mark paid"),
}
EXPORT_JOB = {
    "queued": N_("Queued"),
    "running": N_("Running"),
    "finished": N_("Finished"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
    "expired": N_("Expired"),
}
ALL = {
    "ot_status": OT_STATUS,
    "provision": PROVISION,
    "billing": BILLING,
    "payment": PAYMENT,
    "operation": OPERATION,
    "assignment": ASSIGNMENT,
    "provider_type": PROVIDER_TYPE,
    "transition": TRANSITION,
    "export_job": EXPORT_JOB,
}
