import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Security;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.tsp.TimeStampRequest;
import org.bouncycastle.tsp.TimeStampResponse;
import org.bouncycastle.tsp.TimeStampToken;

/**
 * Checks time-stamp tokens the way a Bouncy Castle relying party does. Each argument is a
 * directory holding request.tsq (DER TimeStampReq), response.tsr (DER TimeStampResp) and
 * chain.pem (the TSA chain, leaf first, root last). One line per directory on stdout:
 * "name<TAB>OK<TAB>genTime" or "name<TAB>FAIL<TAB>step: exception: message", after a first line
 * "#version<TAB>" and Bouncy Castle's version. One JVM checks every token: one start-up per test.
 */
public final class TokenCheck {
  @SuppressWarnings("unchecked")
  public static void main(String[] args) {
    BouncyCastleProvider provider = new BouncyCastleProvider();
    Security.addProvider(provider);
    System.out.println("#version\t" + provider.getVersionStr());
    for (String arg : args) {
      Path dir = Path.of(arg);
      String name = dir.getFileName().toString();
      String step = "parse";
      try {
        TimeStampRequest request = new TimeStampRequest(Files.readAllBytes(dir.resolve("request.tsq")));
        TimeStampResponse response = new TimeStampResponse(Files.readAllBytes(dir.resolve("response.tsr")));
        List<X509Certificate> chain = readChain(Files.readAllBytes(dir.resolve("chain.pem")));
        X509Certificate leaf = chain.get(0);

        // Status granted, nonce, message imprint and policy as asked, a signing-certificate attribute.
        step = "TimeStampResponse.validate";
        response.validate(request);
        TimeStampToken token = response.getTimeStampToken();

        // ESS certificate hash, critical timeStamping EKU, validity at genTime, the CMS signature.
        step = "TimeStampToken.validate";
        token.validate(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(leaf));

        if (request.getCertReq()) {
          step = "certReq";
          Collection<X509CertificateHolder> embedded = token.getCertificates().getMatches(token.getSID());
          if (embedded.isEmpty()) throw new IllegalStateException("certReq set but the token embeds no signer certificate");
          if (!embedded.iterator().next().equals(new X509CertificateHolder(leaf.getEncoded())))
            throw new IllegalStateException("the embedded signer certificate is not the chain's leaf");
        }

        // The leaf chains to the root at genTime (PKIX, no revocation data in a test PKI).
        step = "PKIX";
        validateChain(chain, token.getTimeStampInfo().getGenTime());
        System.out.println(name + "\tOK\t" + token.getTimeStampInfo().getGenTime().toInstant());
      } catch (Exception e) {
        String message = String.valueOf(e.getMessage()).replaceAll("\\s+", " ");
        System.out.println(name + "\tFAIL\t" + step + ": " + e.getClass().getName() + ": " + message);
      }
    }
  }

  private static List<X509Certificate> readChain(byte[] pem) throws Exception {
    List<X509Certificate> chain = new ArrayList<>();
    for (var certificate : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem)))
      chain.add((X509Certificate) certificate);
    return chain;
  }

  private static void validateChain(List<X509Certificate> chain, java.util.Date at) throws Exception {
    CertificateFactory factory = CertificateFactory.getInstance("X.509", "BC");
    X509Certificate root = chain.get(chain.size() - 1);
    PKIXParameters parameters = new PKIXParameters(Set.of(new TrustAnchor(root, null)));
    parameters.setRevocationEnabled(false);
    parameters.setDate(at);
    CertPathValidator.getInstance("PKIX", "BC").validate(factory.generateCertPath(chain.subList(0, chain.size() - 1)), parameters);
  }
}
