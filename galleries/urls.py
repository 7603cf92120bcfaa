app_name = "galleries"
urlpatterns: list = []
