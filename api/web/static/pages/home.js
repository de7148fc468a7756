// The home page: show the tiles of the signed-in role.
Zk.page(() => Zk.showByRole(document.querySelectorAll(".tile")));
