"""Reports for managers: campaign returns and lift (:mod:`.campaigns`), call outcomes by
caller and decline reasons (:mod:`.calls`), upsell KPIs (:mod:`.upsell`)."""
