import "./styles.css";
import { registerRoutes } from "./routes";
import { startRouter } from "./router";

registerRoutes();
startRouter();
