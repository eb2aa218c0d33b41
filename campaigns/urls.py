"""Campaign URLs, one module per area: the grid and campaign pages (urls_grid), the wizard
(urls_wizard), message templates (urls_templates), run/delivery pages (urls_runs), drip workflows
(urls_workflow) and WhatsApp auto-reply settings (urls_autoreply)."""

from campaigns.urls_autoreply import urlpatterns as autoreply_patterns
from campaigns.urls_grid import urlpatterns as grid_patterns
from campaigns.urls_runs import urlpatterns as run_patterns
from campaigns.urls_templates import urlpatterns as template_patterns
from campaigns.urls_wizard import urlpatterns as wizard_patterns
from campaigns.urls_workflow import urlpatterns as workflow_patterns

app_name = "campaigns"

urlpatterns = (grid_patterns + wizard_patterns + template_patterns + run_patterns + workflow_patterns
               + autoreply_patterns)
