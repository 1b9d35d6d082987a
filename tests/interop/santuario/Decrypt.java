/*
 * Decrypt.java KEY.pem CERT.pem FILE OUT
 *
 * Decrypts the first xenc:EncryptedData in FILE (in document order: a bare
 * EncryptedData document, one inside a SOAP envelope, ...) with Apache
 * Santuario (Debian's libxml-security-java, org.apache.xml.security) and
 * writes the plaintext bytes, exactly, to OUT.  Exit status 0 on success;
 * otherwise 1 and one line on stderr.  Run it through decrypt.sh, which
 * compiles it and puts the Debian jars on the class path.
 *
 * The recipient: of the EncryptedKeys in the EncryptedData's ds:KeyInfo we
 * unwrap the one whose ds:KeyInfo/ds:X509Data names CERT: every
 * X509Certificate in that X509Data equals CERT byte for byte and every
 * X509IssuerSerial has CERT's issuer (compared as X.500 names) and serial,
 * and there is at least one of the two.  There may be several EncryptedKeys
 * (several readers, a key rollover); none naming CERT is an error: we do not
 * try the key on the others.
 *
 * All cryptography and the parsing of the XML-Enc elements are Santuario's:
 * XMLCipher.loadEncryptedKey + decryptKey (UNWRAP_MODE with the private key:
 * EncryptionMethod, xenc11:MGF, ds:DigestMethod, OAEPparams are read by
 * Santuario) and XMLCipher.decryptToByteArray (DECRYPT_MODE with the content
 * key: EncryptionMethod, CipherValue, IV and GCM tag are Santuario's).  Only
 * finding the elements and matching the certificate are done here.
 *
 * What Santuario 2.1.7 makes of our documents (checked in its classes):
 * - xenc11#rsa-oaep with xenc11:MGF mgf1sha256 and ds:DigestMethod sha256
 *   is supported: XMLCipher builds the OAEPParameterSpec (SHA-256,
 *   MGF1(SHA-256)) from them.  It reads the MGF only when the XMLCipher was
 *   not made for rsa-oaep-mgf1p, so we use XMLCipher.getInstance() with no
 *   algorithm.
 * - osci128:IvLength in the content EncryptionMethod is ignored: Santuario
 *   reads only KeySize, OAEPparams, ds:DigestMethod and xenc11:MGF there
 *   and takes the IV length from the algorithm (96 bits for GCM), which is
 *   what we write.  So the document goes in unchanged, nothing is removed.
 * - Type (Element, or none for attachments) does not matter for
 *   decryptToByteArray, which returns the octets.
 *
 * Secure validation is switched on (XMLCipher in 2.1.7 starts with it off):
 * nothing here needs it off.  The private key is read as PEM PKCS#8 ("BEGIN PRIVATE
 * KEY"); decrypt.sh converts other PEM forms with openssl first.
 */

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.Key;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

import javax.security.auth.x500.X500Principal;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;

import org.apache.xml.security.encryption.EncryptedKey;
import org.apache.xml.security.encryption.XMLCipher;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

public final class Decrypt {
	static final String NS_XENC = "http://www.w3.org/2001/04/xmlenc#";
	static final String NS_DS = "http://www.w3.org/2000/09/xmldsig#";

	/** A failure with a message for stderr. */
	static final class Fail extends Exception {
		private static final long serialVersionUID = 1L;

		Fail(String msg) {
			super(msg);
		}
	}

	public static void main(String[] args) {
		int rc = 0;
		try {
			if (args.length != 4)
				throw new Fail("usage: decrypt.sh KEY.pem CERT.pem FILE OUT");
			run(args[0], args[1], args[2], args[3]);
		} catch (Fail e) {
			System.err.println("santuario: " + e.getMessage());
			rc = 1;
		} catch (Exception e) {
			System.err.println("santuario: " + describe(e));
			rc = 1;
		}
		System.exit(rc);
	}

	/** The exception and its causes in one line. */
	static String describe(Throwable e) {
		StringBuilder sb = new StringBuilder();
		for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
			if (sb.length() > 0)
				sb.append(": caused by ");
			sb.append(t.getClass().getSimpleName());
			if (t.getMessage() != null)
				sb.append(": ").append(t.getMessage());
		}
		return sb.toString();
	}

	static void run(String keyPath, String certPath, String file, String out)
	    throws Exception {
		org.apache.xml.security.Init.init();
		PrivateKey priv = readKey(keyPath);
		X509Certificate cert = readCert(certPath);
		Document doc = parse(file);

		Element ed = firstElement(doc, NS_XENC, "EncryptedData");
		if (ed == null)
			throw new Fail("no xenc:EncryptedData in " + file);
		Element ki = child(ed, NS_DS, "KeyInfo");
		List<Element> eks = children(ki, NS_XENC, "EncryptedKey");
		if (eks.isEmpty())
			throw new Fail("no ds:KeyInfo/xenc:EncryptedKey in the EncryptedData");
		Element mine = null;
		int index = 0;
		for (int i = 0; i < eks.size() && mine == null; i++) {
			if (names(eks.get(i), cert)) {
				mine = eks.get(i);
				index = i + 1;
			}
		}
		if (mine == null)
			throw new Fail("none of the " + eks.size() + " EncryptedKeys " +
			    "names " + cert.getSubjectX500Principal().getName() +
			    " (X509Certificate / X509IssuerSerial)");

		Element em = child(ed, NS_XENC, "EncryptionMethod");
		if (em == null || !em.hasAttributeNS(null, "Algorithm"))
			throw new Fail("EncryptedData without EncryptionMethod/@Algorithm");
		String dataAlg = em.getAttributeNS(null, "Algorithm");

		Key cek;
		try {
			XMLCipher kc = XMLCipher.getInstance();
			kc.setSecureValidation(true);
			kc.init(XMLCipher.UNWRAP_MODE, priv);
			EncryptedKey ek = kc.loadEncryptedKey(doc, mine);
			cek = kc.decryptKey(ek, dataAlg);
		} catch (Exception e) {
			throw new Fail("EncryptedKey #" + index + ": " + describe(e));
		}
		if (cek == null)
			throw new Fail("EncryptedKey #" + index + ": no key unwrapped");

		byte[] plain;
		try {
			XMLCipher dc = XMLCipher.getInstance();
			dc.setSecureValidation(true);
			dc.init(XMLCipher.DECRYPT_MODE, cek);
			plain = dc.decryptToByteArray(ed);
		} catch (Exception e) {
			throw new Fail("EncryptedData: " + describe(e));
		}
		if (plain == null)
			throw new Fail("EncryptedData: no plaintext");

		// Written next to OUT and renamed: OUT holds all of it or nothing.
		Path dst = Paths.get(out).toAbsolutePath();
		Path tmp = Files.createTempFile(dst.getParent(), ".santuario-", ".tmp");
		try {
			Files.write(tmp, plain);
			Files.move(tmp, dst, StandardCopyOption.REPLACE_EXISTING,
			    StandardCopyOption.ATOMIC_MOVE);
		} finally {
			Files.deleteIfExists(tmp);
		}
	}

	/* ---- the recipient ---- */

	/** Whether one of ek's ds:KeyInfo/ds:X509Data names cert. */
	static boolean names(Element ek, X509Certificate cert) throws Exception {
		byte[] der = cert.getEncoded();
		for (Element xd : children(child(ek, NS_DS, "KeyInfo"), NS_DS, "X509Data")) {
			int said = 0;
			boolean ok = true;
			for (Element xc : children(xd, NS_DS, "X509Certificate")) {
				said++;
				byte[] b = b64(xc);
				ok &= b != null && Arrays.equals(b, der);
			}
			for (Element is : children(xd, NS_DS, "X509IssuerSerial")) {
				said++;
				ok &= issuerSerialIs(is, cert);
			}
			if (said > 0 && ok)
				return true;
		}
		return false;
	}

	static boolean issuerSerialIs(Element is, X509Certificate cert) {
		Element name = child(is, NS_DS, "X509IssuerName");
		Element serial = child(is, NS_DS, "X509SerialNumber");
		if (name == null || serial == null)
			return false;
		try {
			X500Principal issuer = new X500Principal(name.getTextContent().trim());
			BigInteger sn = new BigInteger(serial.getTextContent().trim());
			return issuer.equals(cert.getIssuerX500Principal()) &&
			    sn.equals(cert.getSerialNumber());
		} catch (IllegalArgumentException e) {
			return false;	// not a name or not a number: names nobody
		}
	}

	static byte[] b64(Element e) {
		try {
			return Base64.getMimeDecoder().decode(
			    e.getTextContent().replaceAll("\\s", ""));
		} catch (IllegalArgumentException x) {
			return null;
		}
	}

	/* ---- input ---- */

	static PrivateKey readKey(String path) throws Exception {
		byte[] der = pem(path, "PRIVATE KEY");
		PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
		for (String alg : new String[] { "RSA", "EC", "RSASSA-PSS" }) {
			try {
				return KeyFactory.getInstance(alg).generatePrivate(spec);
			} catch (Exception e) {
				// next algorithm
			}
		}
		throw new Fail(path + ": not a PKCS#8 RSA or EC private key");
	}

	static X509Certificate readCert(String path) throws Exception {
		try (InputStream in = Files.newInputStream(Paths.get(path))) {
			return (X509Certificate)CertificateFactory.getInstance("X.509")
			    .generateCertificate(in);
		} catch (java.security.cert.CertificateException e) {
			throw new Fail(path + ": not an X.509 certificate: " + e.getMessage());
		}
	}

	/** The base64 between BEGIN label and END label in a PEM file. */
	static byte[] pem(String path, String label) throws Exception {
		String s = new String(Files.readAllBytes(Paths.get(path)),
		    StandardCharsets.US_ASCII);
		String begin = "-----BEGIN " + label + "-----";
		String end = "-----END " + label + "-----";
		int a = s.indexOf(begin), b = s.indexOf(end);
		if (a < 0 || b < a)
			throw new Fail(path + ": no " + begin + " (PEM PKCS#8 expected)");
		try {
			return Base64.getMimeDecoder().decode(
			    s.substring(a + begin.length(), b).replaceAll("\\s", ""));
		} catch (IllegalArgumentException e) {
			throw new Fail(path + ": bad base64 in " + label);
		}
	}

	/** FILE parsed namespace-aware, with no DOCTYPE and no external access. */
	static Document parse(String path) throws Exception {
		DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
		f.setNamespaceAware(true);
		f.setExpandEntityReferences(false);
		f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
		f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
		f.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
		f.setAttribute(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
		DocumentBuilder b = f.newDocumentBuilder();
		b.setErrorHandler(null);
		byte[] bytes = Files.readAllBytes(Paths.get(path));
		try {
			return b.parse(new ByteArrayInputStream(bytes));
		} catch (org.xml.sax.SAXException e) {
			throw new Fail(path + ": not well-formed XML: " + e.getMessage());
		}
	}

	/* ---- DOM helpers ---- */

	static boolean is(Node n, String ns, String name) {
		return n != null && n.getNodeType() == Node.ELEMENT_NODE &&
		    ns.equals(n.getNamespaceURI()) && name.equals(n.getLocalName());
	}

	/** The first ns:name in document order. */
	static Element firstElement(Document doc, String ns, String name) {
		NodeList l = doc.getElementsByTagNameNS(ns, name);
		return l.getLength() > 0 ? (Element)l.item(0) : null;
	}

	static Element child(Element e, String ns, String name) {
		List<Element> l = children(e, ns, name);
		return l.isEmpty() ? null : l.get(0);
	}

	static List<Element> children(Element e, String ns, String name) {
		List<Element> l = new ArrayList<>();
		for (Node n = e != null ? e.getFirstChild() : null; n != null;
		    n = n.getNextSibling())
			if (is(n, ns, name))
				l.add((Element)n);
		return l;
	}
}
