"""Campaign URLs, one module per area so the wizard/grid and the run pages evolve separately."""

from campaigns.urls_grid import urlpatterns as grid_patterns
from campaigns.urls_runs import urlpatterns as run_patterns

app_name = "campaigns"

urlpatterns = grid_patterns + run_patterns
