"""Every shape data takes on its way through: topic records, SQL migrations, the vector collection."""
