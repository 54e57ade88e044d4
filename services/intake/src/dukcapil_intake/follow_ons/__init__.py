"""Follow-on requests: what one issued document leads to (an akta kematian to the family card without the deceased;
a surat pindah into Lebak to a new family card and an e-KTP recording), offered as drafts the family or a kecamatan
operator confirms."""
