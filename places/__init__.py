"""The directory of places: districts, police stations with their jurisdictions, protection
centres, child protection institutions, shelters and the 15 control, with their duty contacts
(docs/referrals.md, "The directory of places")."""
