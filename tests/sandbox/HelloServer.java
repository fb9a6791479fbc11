// A JDK com.sun.net.httpserver server for tests/sandbox/server-java.sh and tests/system/upgrade.sh:
// java HelloServer PORT [TAG] answers "hello from java VERSION[ TAG]"
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

public class HelloServer {
    public static void main(String[] args) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 16);
        server.createContext("/", exchange -> {
            byte[] body = ("hello from java " + System.getProperty("java.version")
                    + (args.length > 1 ? " " + args[1] : "") + "\n")
                    .getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream os = exchange.getResponseBody()) {
                os.write(body);
            }
        });
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
        System.out.println("listening on " + args[0]);
    }
}
